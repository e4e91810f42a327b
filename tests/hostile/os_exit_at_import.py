"""Ends the process with os._exit(0) while the module is imported: no exception, no reply."""
import os

os._exit(0)
