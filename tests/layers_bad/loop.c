/* fixture for spec.layers_detects: a loop file that includes a transport kind's header
   and names a kind; tools/check_layers.py must reject it */
#include "loop_int.h"
#include "stream_int.h"
static int stream_count;
