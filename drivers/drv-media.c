// Media sizes of PWG self-describing media names (through libcups' PWG tables).
// Licensed under the Apache License, Version 2.0.
#include "drivers/drivers-private.h"

#include <cups/cups.h>

bool bl_media_get_size(const char *pwg_name, double *width_pt, double *height_pt)
{
    pwg_media_t *pwg = pwg_name ? pwgMediaForPWG(pwg_name) : NULL;
    // Sizes are in hundredths of millimetres; 2540 of them make an inch of 72 points.
    if (!pwg || pwg->width <= 0 || pwg->length <= 0 || pwg->width > 2540 * 200 ||
        pwg->length > 2540 * 200)
        return false;
    *width_pt = pwg->width * 72.0 / 2540.0;
    *height_pt = pwg->length * 72.0 / 2540.0;
    return true;
}
