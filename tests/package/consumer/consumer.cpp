// tests/package/consumer/consumer.cpp - the same consumer compiled as C++ (every public
// header has extern "C": without it this would not link).
#include "consumer.c"
