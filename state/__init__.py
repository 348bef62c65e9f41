"""The state module: `.temp_clips.json`, the checkpoint every resume trusts."""

from clipforge.state.checkpoint import CURRENT, TEMP_DIR, Checkpoint, is_inside_temp, signature
from clipforge.state.cleanup import delete_temp_files, remove_partials, temp_dir_is_link
from clipforge.state.store import (
    STATE_FILE,
    VERSION,
    RunState,
    create_state_file,
    delete_state_file,
    load_state_file,
    save_state_file,
    update_state_file,
)

__all__ = [
    "CURRENT", "TEMP_DIR", "Checkpoint", "is_inside_temp", "signature", "delete_temp_files",
    "remove_partials", "temp_dir_is_link",
    "STATE_FILE", "VERSION", "RunState", "create_state_file", "delete_state_file",
    "load_state_file", "save_state_file", "update_state_file",
]
