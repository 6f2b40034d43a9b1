"""The Raspberry Pi camera through Picamera2 (libcamera), imported only when asked for."""

from __future__ import annotations

import time
from collections.abc import Iterator

from edge.errors import EdgeError
from edge.sources.base import Frame, Source

MISSING = (
    "--source picamera needs Picamera2, which is not installed here: on Raspberry Pi OS run "
    "'sudo apt install python3-picamera2' and create the virtual environment with "
    "--system-site-packages (or use a camera index such as 0 for a USB camera)"
)


class PicameraSource(Source):
    """Frames from the Pi camera as BGR arrays, at the size and rate asked for."""

    live = True

    def __init__(self, width: int = 640, height: int = 480, fps: float | None = None) -> None:
        super().__init__()
        try:
            from picamera2 import Picamera2
        except ImportError as exc:
            raise EdgeError(MISSING) from exc
        try:
            self.camera = Picamera2()
            controls = {"FrameRate": float(fps)} if fps else {}
            # libcamera's "RGB888" is stored B, G, R: the BGR order OpenCV and edge expect.
            config = self.camera.create_video_configuration(
                main={"size": (width, height), "format": "RGB888"}, controls=controls
            )
            self.camera.configure(config)
            self.camera.start()
        except Exception as exc:  # libcamera raises several types; one line for the user
            raise EdgeError(f"cannot start the Pi camera: {exc}") from exc

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        while not self.stopping.is_set():
            try:
                image = self.camera.capture_array("main")
            except Exception as exc:
                raise EdgeError(f"the Pi camera stopped delivering frames: {exc}") from exc
            yield Frame(image[:, :, :3], index, time.monotonic(), name=f"picamera:{index}")
            index += 1

    def close(self) -> None:
        camera, self.camera = getattr(self, "camera", None), None
        if camera is not None:
            camera.stop()
            camera.close()
