"""facefind: find your photos in an album zip by face or by words."""

import os

__version__ = "0.2.0"

# ONNX Runtime (the word reader, UForm, FaceNet) has Microsoft's usage telemetry built in: on
# import it writes a session file to the temporary folder, and it may report usage. facefind
# writes and sends nothing the user did not ask for (docs/privacy.md), so it is off unless the
# user turns it on themselves. Set here, before any module can import onnxruntime; helper
# processes inherit it.
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
