/* fixture */
#include "loop_int.h"
