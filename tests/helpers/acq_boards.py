"""Test helper: real data from BrainFlow's synthetic board (for playback-file tests)."""

import time
import warnings

with warnings.catch_warnings():  # BrainFlow imports pkg_resources when it loads its library
    warnings.simplefilter("ignore")
    from brainflow.board_shim import BoardIds, BoardShim, BrainFlowInputParams


def synthetic_board_data(n_samples: int, timeout: float = 5.0):
    """At least ``n_samples`` samples (all board rows) recorded from the synthetic board."""
    BoardShim.disable_board_logger()
    board = BoardShim(BoardIds.SYNTHETIC_BOARD.value, BrainFlowInputParams())
    board.prepare_session()
    try:
        board.start_stream()
        deadline = time.monotonic() + timeout
        while board.get_board_data_count() < n_samples and time.monotonic() < deadline:
            time.sleep(0.05)
        data = board.get_board_data()
    finally:
        board.release_session()
        del board  # BrainFlow's __del__ must not run at interpreter shutdown
    return data
