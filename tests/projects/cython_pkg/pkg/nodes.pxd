from cpython.object cimport PyObject

cdef class Node:
    cdef object payload
    cdef PyObject* label

    cdef int relabel(self) except -1

cdef int check_depth(Node node, int limit) except -1
