#ifndef PIPELET_HOST_H
#define PIPELET_HOST_H
#endif
