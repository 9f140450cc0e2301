import numpy
import requests

print("ok", numpy.__version__, requests.__version__)
