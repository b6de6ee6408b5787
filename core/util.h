#ifndef PIPELET_UTIL_H
#define PIPELET_UTIL_H
#endif
