# Notebook 15_weakclip_overview.ipynb: code cell, insert after cell 10 (the short-run check,
# `checks.check("15_weakclip_overview", "short_run", ...)`). Says whether the short run agrees
# with the stored full recipe (15_short_run_first.py) before any reading uses it.
short_iv = Interval(*out.loc["WeakCLIP - CLIP-ES, ours", ["mIoU", "95% low", "95% high"]])


def direction(iv):
    return "above" if iv.low > 0 else "below" if iv.high < 0 else "indistinguishable from"


train_stored = [iv for (split_name, _), iv in stored_diffs.items() if split_name == "train"]
if train_stored:
    stored_dirs = {direction(iv) for iv in train_stored}
    agree = stored_dirs == {direction(short_iv)}
    display(nbk.reading(
        f"The short run puts WeakCLIP {direction(short_iv)} CLIP-ES ({short_iv.text()}); the "
        f"stored full recipe on the train images puts it {' / '.join(sorted(stored_dirs))} "
        f"CLIP-ES ({'every' if len(stored_dirs) == 1 else 'depending on the'} training seed). "
        + ("The short run agrees with the stored result." if agree else
           "**The short run shows the opposite of the stored result**: it is a few steps on a "
           "few images, and the stored table, not this run, is the measurement.")))
