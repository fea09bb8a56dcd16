#include "seed_items.h"

PyObject *
create_new_item(void)
{
    return PyDict_New();
}
