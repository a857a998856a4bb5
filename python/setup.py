"""Build fathom._fathom with CMake: the repository one folder up is configured with the
extension only (no CLI, no tests) and its fathom_python target is copied into the package.
Needs cmake >= 3.25 and the C library's build dependencies (scripts/install-deps.sh).
Environment: FATHOM_CUDA=ON/OFF/AUTO (default AUTO), CMAKE_BUILD_PARALLEL_LEVEL, FATHOM_CMAKE_ARGS."""
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        if not (ROOT / "CMakeLists.txt").is_file() or not (ROOT / "include" / "fathom.h").is_file():
            sys.exit(f"fathom: the C sources are not at {ROOT}: build from a fathom checkout "
                     "(pip install ./python)")
        cmake = shutil.which("cmake")
        if not cmake:
            sys.exit("fathom: cmake (>= 3.25) is needed to build the C library")
        # one CMake build per interpreter and NumPy: a cached NumPy 1.x include directory
        # from an earlier build would make a module that NumPy 2 refuses to import
        import hashlib
        import numpy
        key = hashlib.sha256(f"{sys.executable}|{numpy.__version__}".encode()).hexdigest()[:12]
        build = Path(self.build_temp).resolve() / f"cmake-{key}"
        pydir = build / "py"
        args = [
            f"-DCMAKE_BUILD_TYPE={'Debug' if self.debug else 'Release'}",
            "-DFATHOM_BUILD_TESTS=OFF", "-DFATHOM_BUILD_CLI=OFF", "-DFATHOM_BUILD_PYTHON=ON",
            f"-DFATHOM_CUDA={os.environ.get('FATHOM_CUDA', 'AUTO')}",
            f"-DPython3_EXECUTABLE={sys.executable}", f"-DFATHOM_PYTHON_DIR={pydir}",
        ] + shlex.split(os.environ.get("FATHOM_CMAKE_ARGS", ""))
        subprocess.run([cmake, "-S", str(ROOT), "-B", str(build)] + args, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL", str(os.cpu_count() or 1))
        subprocess.run([cmake, "--build", str(build), "--target", "fathom_python", "-j", jobs],
                       check=True)
        built = list((pydir / "fathom").glob("_fathom*.so"))
        if len(built) != 1:
            sys.exit(f"fathom: expected one _fathom module in {pydir / 'fathom'}, found {built}")
        dest = Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], dest)
        # backend modules libfathom dlopens from the extension's folder (libfathom-cuda.so)
        for mod in (pydir / "fathom").glob("libfathom-*.so"):
            shutil.copyfile(mod, dest.parent / mod.name)


setup(ext_modules=[Extension("fathom._fathom", sources=[])], cmdclass={"build_ext": CMakeBuild})
