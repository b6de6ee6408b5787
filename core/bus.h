#ifndef PIPELET_BUS_H
#define PIPELET_BUS_H
#endif
