# cython_example.pyx
def process_data(items_list):
    cdef object item = items_list # Cython handles refcount for item
    new_list = [x * 2 for x in items_list] # And for new_list
    return new_list
