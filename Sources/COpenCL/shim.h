// Slim targets OpenCL 1.2: every call it makes exists on any 1.2 device.
#define CL_TARGET_OPENCL_VERSION 120
#if defined(__APPLE__)
#include <OpenCL/opencl.h>
#else
#include <CL/cl.h>
#endif
