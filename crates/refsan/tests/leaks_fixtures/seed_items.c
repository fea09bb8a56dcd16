#include "seed_items.h"

PyObject *
create_new_item(void)
{
    return PyList_New(0);
}
