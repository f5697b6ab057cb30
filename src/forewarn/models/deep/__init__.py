"""Deep (torch) models: 1-D CNNs for vibration faults and RUL, an LSTM with attention, two autoencoders.

torch is the ``forewarn[deep]`` extra, imported through :mod:`forewarn._optional`: this package and its
modules import without it, a module is imported only when one of its names (or its registry name) is asked
for, and fitting or restoring a model without torch raises a ``ConfigError`` with the pip command.
"""

from typing import TYPE_CHECKING

from forewarn._lazy import lazy_exports

if TYPE_CHECKING:
    from forewarn.models.deep.autoencoder import AutoencoderDetector
    from forewarn.models.deep.cnn_fault import CNNFault
    from forewarn.models.deep.rul_cnn import CNNRUL

__all__ = ["AutoencoderDetector", "CNNFault", "CNNRUL"]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {  # a submodule is imported when a name of it is asked for
        "AutoencoderDetector": "autoencoder",
        "CNNFault": "cnn_fault",
        "CNNRUL": "rul_cnn",
    },
)
