"""The ``.tflite`` as a contract: the one interpreter import (``runtime``), the flatbuffer reader, the
metadata, the op graph, the output layouts, and the checked spec read once at load (``spec``)."""
