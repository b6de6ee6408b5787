#ifndef PIPELET_WS_FRAME_H
#define PIPELET_WS_FRAME_H
#endif
