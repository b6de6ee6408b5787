/*
 * memtrim.h — gives freed heap memory back to the system after connection churn
 * (memtrim.c).
 */
#ifndef PIPELET_MEMTRIM_H
#define PIPELET_MEMTRIM_H

void memtrim_start(void);
void memtrim_shutdown(void);

#endif
