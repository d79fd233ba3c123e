"""Fashion-MNIST for training: the reader lives in contract/fashion_mnist.py (numpy only), so the
analysis can read the data without torch. Kept for training's own modules that import it here."""
from contract.fashion_mnist import CLASS_NAMES, DatasetError, dataset_checksum, load_split

__all__ = ["CLASS_NAMES", "DatasetError", "dataset_checksum", "load_split"]
