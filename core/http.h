#ifndef PIPELET_HTTP_H
#define PIPELET_HTTP_H
#endif
