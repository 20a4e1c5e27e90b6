# Folds memray captures into stacks weighed by the bytes still held when
# tracking ended: for a capture taken with `memray attach`, the bytes
# allocated during the window and not freed by its end.
#
# Usage: python memray_fold.py OUT CAPTURE:PID:LABEL...
# Writes `frame;frame;... BYTES` lines (root first, each process a root
# frame of its own) to OUT, and one line per capture on stdout:
#   ok PID ALLOCATIONS BYTES
#   error PID MESSAGE
# Run by loadprof with the target's own interpreter, which has memray.
import sys


def clean(text):
    # A frame's own ';' and line breaks would split the stack; a space at
    # the end would be taken for the one before the count.
    return text.replace(";", ":").replace("\n", " ").replace("\r", " ").strip() or "?"


def own(file):
    return file.endswith("_memray_attach_hook.py") or "/memray/" in file


def fold(pid, label, trace):
    # memray's own start-up in the target is not the target's memory.
    if any(own(file) for _, file, _ in trace):
        return None
    frames = [f"pid {pid}: {clean(label)}"]
    for function, file, line in reversed(trace):
        frames.append(f"{clean(function)} ({clean(file)}:{int(line)})")
    return ";".join(frames)


def main():
    from memray import FileReader

    out_path, captures = sys.argv[1], sys.argv[2:]
    with open(out_path, "w", encoding="utf-8", errors="replace") as out:
        for spec in captures:
            path, pid, label = spec.split(":", 2)
            try:
                reader = FileReader(path, report_progress=False)
                records = reader.get_leaked_allocation_records(merge_threads=True)
                stacks = {}
                # Records of one stack share its id: each stack is spelled
                # out once, not once per allocation.
                keys = {}
                allocations = 0
                for record in records:
                    key = keys.get(record.stack_id, "")
                    if key == "":
                        key = fold(pid, label, list(record.stack_trace()))
                        keys[record.stack_id] = key
                    allocations += record.n_allocations
                    if key is None:
                        continue
                    stacks[key] = stacks.get(key, 0) + record.size
                for key, size in stacks.items():
                    if size > 0:
                        out.write(f"{key} {size}\n")
                print(f"ok {pid} {allocations} {sum(stacks.values())}", flush=True)
            except Exception as e:  # noqa: BLE001 - every failure is reported per capture
                print(f"error {pid} {clean(str(e))[:300]}", flush=True)


main()
