# Correct: the module's own `find_item` and the extern of the same name in
# the cimported `_lookup.pxd` (reached as `_lookup.find_item`) are two
# functions; Cython gives them different C names.
from pkg cimport _lookup

NAMES = ["content-type", "host"]


cdef inline object find_item(bytes raw):
    cdef int idx = _lookup.find_item(raw, len(raw))
    if idx == -1:
        return raw.decode("latin-1")
    return NAMES[idx]


def name_of(bytes raw):
    name = find_item(raw)
    return name
