#ifndef PIPELET_MODEL_H
#define PIPELET_MODEL_H
#endif
