"""dot forges the child's reply on the reply pipe itself (a wrong value, 'status ok'), then
ends the process so that the real reply never follows. The forged value is all it gets:
the grader never trusts a reply more than a return value, and a child that ends after
answering fails the check."""
import json
import os
import struct
import sys


def dot(a, b):
    header = json.dumps({"status": "ok", "value": {"t": "float", "v": "1.0"}, "autograd": []}).encode()
    os.write(int(sys.argv[2]), struct.pack("<II", len(header), 0) + header)
    os._exit(0)
