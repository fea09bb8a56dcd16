#include "boxes.h"

/* NO_LABEL for the empty name, else a new string. */
PyObject *
label_for(const char *name)
{
    if (name[0] == '\0')
        return NO_LABEL;
    return PyUnicode_FromString(name);
}
