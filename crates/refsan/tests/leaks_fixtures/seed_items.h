/* The seed article's "my_c_library.h": create_new_item() returns a NEW
 * reference. */
#ifndef SEED_ITEMS_H
#define SEED_ITEMS_H
#include <Python.h>

PyObject *create_new_item(void);

#endif
