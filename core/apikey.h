#ifndef PIPELET_APIKEY_H
#define PIPELET_APIKEY_H
#endif
