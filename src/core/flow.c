/* src/core/flow.c - see flow.h. Pure: no syscalls, no allocation, no callbacks. */
#include "core/flow.h"

void aiotp__flow_init(aiotp__flow *f)
{
    f->high = AIOTP__FLOW_DEFAULT_HIGH;
    f->low = AIOTP__FLOW_DEFAULT_LOW;
    f->state = AIOTP__FLOW_RUNNING;
}

bool aiotp__flow_is_valid(const aiotp__flow *f)
{
    return f->low <= f->high &&
           (f->state == AIOTP__FLOW_RUNNING || f->state == AIOTP__FLOW_PAUSED);
}

bool aiotp__flow_set_limits(aiotp__flow *f, int64_t high, int64_t low)
{
    int64_t h;
    int64_t l;

    /* FLOW-2: derive the missing limit */
    if (high == AIOTP__FLOW_NONE) {
        if (low == AIOTP__FLOW_NONE) {
            h = (int64_t)AIOTP__FLOW_DEFAULT_HIGH;
        } else {
            if (low > INT64_MAX / 4 || low < INT64_MIN / 4) {
                return false; /* 4 * low does not fit */
            }
            h = 4 * low;
        }
    } else {
        h = high;
    }
    if (low == AIOTP__FLOW_NONE) {
        l = h / 4;
    } else {
        l = low;
    }
    /* FLOW-3: validation after derivation */
    if (l < 0 || h < l) {
        return false;
    }
    if ((uint64_t)h > (uint64_t)SIZE_MAX) {
        return false;
    }
    f->high = (size_t)h;
    f->low = (size_t)l;
    return true;
}

aiotp__flow_action aiotp__flow_check_pause(aiotp__flow *f, size_t size)
{
    aiotp__flow_action act = AIOTP__FLOW_NOTHING;
    if (f->state == AIOTP__FLOW_RUNNING && size > f->high) {
        f->state = AIOTP__FLOW_PAUSED; /* set before the callback, as CPython */
        act = AIOTP__FLOW_CALL_PAUSE;
    }
    return act;
}

aiotp__flow_action aiotp__flow_check_resume(aiotp__flow *f, size_t size)
{
    aiotp__flow_action act = AIOTP__FLOW_NOTHING;
    if (f->state == AIOTP__FLOW_PAUSED && size <= f->low) {
        f->state = AIOTP__FLOW_RUNNING;
        act = AIOTP__FLOW_CALL_RESUME;
    }
    return act;
}
