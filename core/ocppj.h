#ifndef PIPELET_OCPPJ_H
#define PIPELET_OCPPJ_H
#endif
