from setuptools import Extension, setup

setup(
    name="wordstats",
    version="1.0",
    ext_modules=[Extension("wordstats", ["wordstats.c"])],
)
