#ifndef PIPELET_CONFIG_H
#define PIPELET_CONFIG_H
#endif
