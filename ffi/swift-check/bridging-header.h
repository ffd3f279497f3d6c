#ifndef BGUPLOAD_BRIDGING_HEADER_H
#define BGUPLOAD_BRIDGING_HEADER_H

#include "generated/SwiftBridgeCore.h"
#include "generated/bgupload-ffi/bgupload-ffi.h"

#endif
