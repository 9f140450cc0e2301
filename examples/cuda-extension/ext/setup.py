from setuptools import setup
from torch.utils.cpp_extension import BuildExtension, CUDAExtension

setup(
    name="add_one_ext",
    ext_modules=[CUDAExtension("add_one_ext", ["add_one.cu"])],
    cmdclass={"build_ext": BuildExtension},
)
