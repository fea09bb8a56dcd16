cdef extern from "lookup.h":
    int find_item(char *name, int size)
