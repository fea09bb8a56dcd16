/* The C library the seed article's Cython examples call ("my_c_library.h").
 *
 * Ownership of each function, as the examples' comments state it:
 *   get_global_item_borrowed()  borrowed reference to a module-level list
 *   get_obj_borrowed()          borrowed reference to the same list
 *   create_new_item()           new reference to a fresh list
 *   process_item(item)          steals the reference to item (and keeps
 *                               the item in a list, as PyList_SetItem would)
 *   create_resource()           new reference to a fresh dict
 *   use_resource(res)           0 on success, -1 on error (no exception)
 *   free_raw_resource(res)      releases the reference to res
 *   get_c_object_new_ref()      new reference, or NULL when the environment
 *                               variable MY_C_LIBRARY_FAIL is set (so a
 *                               failing __cinit__ can be triggered)
 *   release_c_object(obj)       releases the reference to obj
 *
 * Every object these functions create holds the library's sentinel object,
 * so a test can count leaked objects with sys.getrefcount(sentinel).
 */
#ifndef MY_C_LIBRARY_H
#define MY_C_LIBRARY_H
#include <Python.h>

PyObject *get_global_item_borrowed(void);
PyObject *get_obj_borrowed(void);
PyObject *create_new_item(void);
void process_item(PyObject *item);
PyObject *create_resource(void);
int use_resource(PyObject *res);
void free_raw_resource(PyObject *res);
PyObject *get_c_object_new_ref(void);
void release_c_object(PyObject *obj);

/* New reference to the sentinel every created object contains. */
PyObject *my_c_library_sentinel(void);
/* New reference to the list of the items process_item() kept. */
PyObject *my_c_library_processed(void);

#endif
