"""Dataset loaders on tiny trees written in each dataset's real naming and file format."""

from __future__ import annotations

import json
import warnings

import cv2
import numpy as np
import pytest

from stimuli.datasets import DATASETS, BadFileWarning, dataset_options, get_dataset
from stimuli.datasets.kth import KTH_PERSONS, parse_kth_sequences
from stimuli.events import write_aedat31, write_nmnist
from stimuli.types import EVENT_DTYPE, Sample, StimulusError, make_events
from stimuli.video import write_video

FRAME_SHAPE = (24, 32)  # (height, width) of the tiny videos


def ramp_clip(n_frames: int, offset: float = 0.0) -> np.ndarray:
    """Uniform frames whose grey level encodes the frame number (1-based): k * 0.05 + offset."""
    levels = offset + 0.05 * np.arange(1, n_frames + 1, dtype=np.float32)
    return np.broadcast_to(levels[:, None, None], (n_frames, *FRAME_SHAPE)).copy()


def frame_numbers(clip: np.ndarray, offset: float = 0.0) -> np.ndarray:
    """Invert :func:`ramp_clip` (MJPG is lossy; the means survive to < 0.01)."""
    return np.rint((clip.mean(axis=(1, 2)) - offset) / 0.05).astype(int)


def bad_video(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"this is not a video" * 10)
    return path


# -- registry -------------------------------------------------------------------------------
def test_registry_knows_every_dataset():
    assert set(DATASETS) == {
        "kth",
        "ucf11",
        "ucf101",
        "dvs_gesture",
        "nmnist",
        "weizmann",
        "folder",
        "synthetic",
        "images",
    }
    assert "skip_bad" in dataset_options("kth")


def test_unknown_dataset_and_option_raise_value_error_naming_them(tmp_path):
    with pytest.raises(ValueError, match="no_such_set"):
        get_dataset("no_such_set", tmp_path)
    with pytest.raises(ValueError, match="colour_mode"):
        get_dataset("kth", tmp_path, colour_mode=True)


@pytest.mark.parametrize("name", ["kth", "ucf11", "ucf101", "dvs_gesture", "nmnist", "weizmann", "folder"])
def test_missing_root_names_the_path(tmp_path, name):
    missing = tmp_path / "not_here"
    with pytest.raises(FileNotFoundError, match="not_here"):
        get_dataset(name, missing)


@pytest.mark.parametrize(
    "name,expected",
    [
        ("kth", "personPP_<action>_dS_uncomp.avi"),
        ("ucf11", "v_<name>_<gg>"),
        ("ucf101", "classInd.txt"),
        ("dvs_gesture", "user<NN>_<lighting>.aedat"),
        ("nmnist", "Train/<digit>/<id>.bin"),
        ("weizmann", "grayscale"),
        ("folder", "<root>/<class>/<clip>"),
    ],
)
def test_unrecognised_layout_says_what_was_expected(tmp_path, name, expected):
    (tmp_path / "random_folder").mkdir()
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        StimulusError, match=expected.replace("<", ".").replace(">", ".").replace("(", r"\(").replace(")", r"\)")
    ):
        get_dataset(name, tmp_path)


# -- KTH ------------------------------------------------------------------------------------
KTH_TREE_PERSONS = (1, 2, 11, 12, 19, 22)
KTH_TREE_ACTIONS = ("boxing", "walking")
KTH_N_FRAMES = 12


@pytest.fixture(scope="module")
def kth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("kth")
    lines = ["KTH subsequences: free text header the parser must skip", ""]
    for p in KTH_TREE_PERSONS:
        for a in KTH_TREE_ACTIONS:
            for d in (1, 3):
                name = f"person{p:02d}_{a}_d{d}"
                write_video(root / a / f"{name}_uncomp.avi", ramp_clip(KTH_N_FRAMES), fps=25.0)
                lines.append(f"{name}\t\tframes\t1-4, 5-9, 10-12")
    lines.append("person13_handclapping_d3\t\tframes\t1-50, 51-90")  # listed, no video
    (root / "00sequences.txt").write_text("\n".join(lines) + "\n")
    return root


def test_kth_parse_sequences(kth_root):
    seq = parse_kth_sequences(kth_root / "00sequences.txt")
    assert seq["person01_boxing_d1"] == [(1, 4), (5, 9), (10, 12)]
    assert seq["person13_handclapping_d3"] == [(1, 50), (51, 90)]


def test_kth_subsequences_are_items_with_exact_frame_ranges(kth_root):
    ds = get_dataset("kth", kth_root)
    assert ds.classes == ["boxing", "handclapping", "handwaving", "jogging", "running", "walking"]
    assert len(ds) == len(KTH_TREE_PERSONS) * len(KTH_TREE_ACTIONS) * 2 * 3
    ids = ds.ids
    k = ids.index("person02_walking_d3_s2")
    s = ds[k]
    assert isinstance(s, Sample) and s.label == ds.classes.index("walking")
    assert s.data.dtype == np.float32 and s.data.shape == (5, *FRAME_SHAPE)
    assert list(frame_numbers(s.data)) == [5, 6, 7, 8, 9]
    assert s.meta["subject"] == 2 and s.meta["scenario"] == 3 and s.meta["frames"] == (5, 9)
    assert s.meta["path"].endswith("walking/person02_walking_d3_uncomp.avi")
    assert list(frame_numbers(ds[ids.index("person02_walking_d3_s3")].data)) == [10, 11, 12]


def test_kth_whole_videos_and_frame_options(kth_root):
    ds = get_dataset("kth", kth_root, subsequences=False, step=2, max_frames=4, size=(16, 12))
    assert len(ds) == len(KTH_TREE_PERSONS) * len(KTH_TREE_ACTIONS) * 2
    clip = ds[0].data
    assert clip.shape == (4, 12, 16)
    assert list(frame_numbers(clip)) == [1, 3, 5, 7]
    sub = get_dataset("kth", kth_root, step=2)
    i = sub.ids.index("person01_boxing_d1_s2")
    assert list(frame_numbers(sub[i].data)) == [5, 7, 9]


def test_kth_standard_person_split_has_no_leakage(kth_root):
    ds = get_dataset("kth", kth_root)
    persons = {}
    for name in ("train", "val", "test"):
        part = ds.split(name)
        persons[name] = set(part.meta_values("person"))
        assert part.split_name == name
    assert persons == {"train": {11, 12}, "val": {1, 19}, "test": {2, 22}}
    for name, ps in persons.items():
        assert ps <= set(KTH_PERSONS[name])
    assert len(ds.split("trainval")) == len(ds.split("train")) + len(ds.split("val"))
    assert sum(len(ds.split(n)) for n in ("train", "val", "test")) == len(ds)
    # leave one person out
    test, train = ds.split("test", persons=[19]), ds.split("train", persons=[19])
    assert set(test.meta_values("person")) == {19}
    assert 19 not in set(train.meta_values("person")) and len(test) + len(train) == len(ds)
    with pytest.raises(ValueError, match="holdout"):
        ds.split("holdout")
    with pytest.raises(ValueError, match="fold"):
        ds.split("train", fold=2)


def test_kth_filters_and_describe(kth_root):
    ds = get_dataset("kth", kth_root, persons=[11, 22], scenarios=[1], subsequences=False)
    assert sorted(set(ds.meta_values("person"))) == [11, 22]
    assert set(ds.meta_values("scenario")) == {1}
    text = ds.describe()
    assert "boxing" in text and "train" in text and "test" in text
    assert list(ds.class_counts()) == [2, 0, 0, 0, 0, 2]
    np.testing.assert_array_equal(ds.labels, [0, 0, 5, 5])


def test_kth_bad_videos_raise_or_are_skipped(tmp_path):
    root = tmp_path / "kth"
    write_video(root / "boxing" / "person11_boxing_d1_uncomp.avi", ramp_clip(6))
    bad_video(root / "boxing" / "person12_boxing_d1_uncomp.avi")
    write_video(root / "walking" / "person22_walking_d1_uncomp.avi", np.zeros((0, 24, 32)))
    ds = get_dataset("kth", root)
    assert len(ds) == 3
    with pytest.raises(StimulusError, match="person12_boxing_d1_uncomp.avi"):
        ds[ds.ids.index("person12_boxing_d1")]
    with pytest.raises(StimulusError, match="person22_walking_d1_uncomp.avi"):
        ds[ds.ids.index("person22_walking_d1")]
    with pytest.warns(BadFileWarning, match="skipped 2 bad file"):
        ok = get_dataset("kth", root, skip_bad=True)
    assert ok.ids == ["person11_boxing_d1"]
    assert sorted(p.split("/")[-1] for p, _ in ok.bad_files) == [
        "person12_boxing_d1_uncomp.avi",
        "person22_walking_d1_uncomp.avi",
    ]
    assert "skipped 2 bad file" in ok.describe()


def test_kth_subsequence_beyond_the_video_names_the_file(tmp_path):
    root = tmp_path / "kth"
    write_video(root / "jogging" / "person05_jogging_d2_uncomp.avi", ramp_clip(5))
    (root / "00sequences.txt").write_text("person05_jogging_d2\t\tframes\t1-3, 8-10\n")
    ds = get_dataset("kth", root)
    assert len(ds[0].data) == 3
    with pytest.raises(StimulusError, match="person05_jogging_d2_uncomp.avi"):
        ds[1]
    (root / "00sequences.txt").write_text("person05_jogging_d2\t\tframes\t9-3\n")
    with pytest.raises(StimulusError, match="00sequences.txt"):
        get_dataset("kth", root)


def test_iteration_with_skip_bad_skips_load_failures(tmp_path):
    root = tmp_path / "kth"
    write_video(root / "boxing" / "person11_boxing_d1_uncomp.avi", ramp_clip(6))
    write_video(root / "boxing" / "person12_boxing_d1_uncomp.avi", ramp_clip(6))
    (root / "00sequences.txt").write_text(
        "person11_boxing_d1\t\tframes\t1-3, 20-30\nperson12_boxing_d1\t\tframes\t1-6\n"
    )
    ds = get_dataset("kth", root, skip_bad=True)  # probing opens files; ranges fail later
    with pytest.warns(BadFileWarning, match="skipped 1 bad file"):
        got = [s.meta["id"] for s in ds]
    assert got == ["person11_boxing_d1_s1", "person12_boxing_d1_s1"]
    assert len(ds.bad_files) == 1


# -- UCF11 ----------------------------------------------------------------------------------
UCF11_TREE = {"basketball": "shooting", "biking": "biking", "walking": "walk_dog"}


@pytest.fixture(scope="module")
def ucf11_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf11")
    for cls, short in UCF11_TREE.items():
        for g in range(1, 7):
            gdir = root / cls / f"v_{short}_{g:02d}"
            for c in (1, 2):
                write_video(gdir / f"v_{short}_{g:02d}_{c:02d}.avi", ramp_clip(3))
            (gdir / "Annotation").mkdir(exist_ok=True)
            (gdir / "Annotation" / "notes.xgtf").write_text("<xml/>")
    return root


def test_ucf11_index_groups_and_loading(ucf11_root):
    ds = get_dataset("ucf11", ucf11_root)
    assert ds.classes == ["basketball", "biking", "walking"]
    assert len(ds) == 3 * 6 * 2
    assert ds.groups == [1, 2, 3, 4, 5, 6]
    s = ds[ds.ids.index("v_walk_dog_04_02")]
    assert s.label == 2 and s.meta["group"] == 4 and s.data.shape == (3, *FRAME_SHAPE)


def test_ucf11_leave_one_group_out_and_grouped_kfold(ucf11_root):
    ds = get_dataset("ucf11", ucf11_root)
    for g in ds.groups:
        test, train = ds.split("test", fold=g), ds.split("train", fold=g)
        assert set(test.meta_values("group")) == {g}
        assert g not in set(train.meta_values("group"))
        assert len(test) + len(train) == len(ds)
    seen = []
    for k in (1, 2, 3):
        test = set(ds.split("test", fold=k, n_folds=3).meta_values("group"))
        train = set(ds.split("train", fold=k, n_folds=3).meta_values("group"))
        assert not test & train and test | train == set(ds.groups)
        seen += sorted(test)
    assert seen == [1, 2, 3, 4, 5, 6]  # every group tested exactly once
    with pytest.raises(ValueError, match="fold 9"):
        ds.split("test", fold=9)
    with pytest.raises(ValueError, match="fold must be in 1..3"):
        ds.split("test", fold=4, n_folds=3)


# -- UCF101 ---------------------------------------------------------------------------------
UCF101_CLASSES = ("ApplyEyeMakeup", "Basketball", "HandstandPushups")


@pytest.fixture(scope="module")
def ucf101_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("ucf101")
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("".join(f"{k} {c}\r\n" for k, c in enumerate(UCF101_CLASSES, 1)))
    train, test = [], []
    for k, cls in enumerate(UCF101_CLASSES, 1):
        fname_cls = "HandStandPushups" if cls == "HandstandPushups" else cls  # real quirk
        for g in (1, 2, 8, 9):
            name = f"v_{fname_cls}_g{g:02d}_c01.avi"
            write_video(root / "UCF-101" / cls / name, ramp_clip(2))
            (test if g <= 7 else train).append((f"{cls}/{name}", k))
    train.append(("Basketball/v_Basketball_g10_c01.avi", 2))  # listed but absent
    (lists / "trainlist01.txt").write_text("".join(f"{p} {k}\r\n" for p, k in train))
    (lists / "testlist01.txt").write_text("".join(f"{p}\r\n" for p, _ in test))
    return root


def test_ucf101_index_and_official_split(ucf101_root):
    ds = get_dataset("ucf101", ucf101_root)
    assert ds.classes == list(UCF101_CLASSES)
    assert len(ds) == 12
    with pytest.warns(UserWarning, match="1 video"):
        train = ds.split("train", fold=1)
    test = ds.split("test", fold=1)
    assert set(train.meta_values("group")) == {8, 9}
    assert set(test.meta_values("group")) == {1, 2}
    assert not set(train.ids) & set(test.ids) and len(train) + len(test) == len(ds)
    np.testing.assert_array_equal(np.bincount(train.labels), [2, 2, 2])
    s = test[test.ids.index("v_HandStandPushups_g02_c01")]
    assert s.label == 2 and s.data.shape == (2, *FRAME_SHAPE)
    with pytest.raises(FileNotFoundError, match="trainlist02.txt"):
        ds.split("train", fold=2)
    with pytest.raises(ValueError, match="fold must be 1, 2 or 3"):
        ds.split("train", fold=4)


def test_ucf101_explicit_splits_dir_and_label_mismatch(ucf101_root, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    (lists / "classInd.txt").write_text((ucf101_root / "ucfTrainTestlist" / "classInd.txt").read_text())
    (lists / "trainlist01.txt").write_text("Basketball/v_Basketball_g08_c01.avi 3\n")
    ds = get_dataset("ucf101", ucf101_root, splits_dir=lists)
    with pytest.raises(StimulusError, match="trainlist01.txt"):
        ds.split("train")
    with pytest.raises(FileNotFoundError, match="classInd.txt"):
        get_dataset("ucf101", ucf101_root, splits_dir=tmp_path / "nowhere")


# -- DVS128 Gesture -------------------------------------------------------------------------
def gesture_recording(rng, windows, n_per_ms=2):
    """Events spanning all windows plus gaps; returns the event array."""
    t_end = max(e for _, _, e in windows) + 200_000
    n = t_end // 1000 * n_per_ms
    t = np.sort(rng.integers(0, t_end, size=n))
    return make_events(rng.integers(0, 128, n), rng.integers(0, 128, n), t, rng.integers(0, 2, n))


@pytest.fixture(scope="module")
def dvs_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dvs")
    rng = np.random.default_rng(3)
    recordings = {}
    for user, light, windows in [
        (1, "fluorescent", [(1, 100_000, 600_000), (5, 700_000, 1_200_000)]),
        (23, "led", [(11, 50_000, 400_000)]),
        (24, "lab", [(2, 10_000, 300_000), (3, 400_000, 900_000), (10, 950_000, 1_000_000)]),
        (29, "natural", [(7, 0, 500_000)]),
    ]:
        ev = gesture_recording(rng, windows)
        stem = f"user{user:02d}_{light}"
        write_aedat31(root / f"{stem}.aedat", ev)
        (root / f"{stem}_labels.csv").write_text(
            "class,startTime_usec,endTime_usec\n" + "".join(f"{c},{s},{e}\n" for c, s, e in windows)
        )
        recordings[stem] = (ev, windows)
    return root, recordings


def test_dvs_gesture_items_events_and_labels(dvs_root):
    root, recordings = dvs_root
    ds = get_dataset("dvs_gesture", root)
    assert len(ds.classes) == 11 and ds.sensor_size == (128, 128, 2)
    assert len(ds) == 7
    assert list(ds.labels) == [0, 4, 10, 1, 2, 9, 6]
    for i, item in enumerate(ds.items):
        stem = item.meta["file"][: -len(".aedat")]
        ev, windows = recordings[stem]
        cls, start, end = windows[item.meta["segment"]]
        s = ds[i]
        assert s.is_events and s.data.dtype == EVENT_DTYPE
        expected = ev[(ev["t"] >= start) & (ev["t"] < end)]
        assert s.data.size == expected.size > 0
        np.testing.assert_array_equal(s.data["t"], expected["t"] - start)
        np.testing.assert_array_equal(s.data["x"], expected["x"])
        assert s.label == cls - 1 and s.meta["sensor_size"] == (128, 128, 2)


def test_dvs_gesture_user_split_and_trial_lists(dvs_root, tmp_path):
    root, _ = dvs_root
    ds = get_dataset("dvs_gesture", root)
    assert set(ds.split("train").meta_values("user")) == {1, 23}
    assert set(ds.split("test").meta_values("user")) == {24, 29}
    # official trial lists take precedence over the user rule
    alt = tmp_path / "dvs"
    alt.mkdir()
    for f in root.iterdir():
        (alt / f.name).write_bytes(f.read_bytes())
    (alt / "trials_to_train.txt").write_text("user01_fluorescent.aedat\nuser24_lab.aedat\n\n")
    (alt / "trials_to_test.txt").write_text("user23_led.aedat\nuser29_natural.aedat\n")
    ds2 = get_dataset("dvs_gesture", alt)
    assert set(ds2.split("train").meta_values("user")) == {1, 24}
    assert set(ds2.split("test").meta_values("user")) == {23, 29}
    assert len(get_dataset("dvs_gesture", alt, users=[24]).split("train")) == 3


def test_dvs_gesture_bad_files(dvs_root, tmp_path):
    root, recordings = dvs_root
    bad = tmp_path / "dvs"
    bad.mkdir()
    good = "user01_fluorescent"
    for suffix in (".aedat", "_labels.csv"):
        (bad / f"{good}{suffix}").write_bytes((root / f"{good}{suffix}").read_bytes())
    raw = (root / "user24_lab.aedat").read_bytes()
    (bad / "user24_lab.aedat").write_bytes(raw[:-3])  # truncated packet
    (bad / "user24_lab_labels.csv").write_bytes((root / "user24_lab_labels.csv").read_bytes())
    (bad / "user25_led.aedat").write_bytes(raw)  # no labels csv
    with pytest.raises(StimulusError, match="user25_led_labels.csv"):
        get_dataset("dvs_gesture", bad)
    with pytest.warns(BadFileWarning, match="user25_led"):
        ds = get_dataset("dvs_gesture", bad, skip_bad=True)
    assert [p.split("/")[-1] for p, _ in ds.bad_files] == ["user25_led.aedat"]
    i = ds.ids.index("user24_lab_00")
    with pytest.raises(StimulusError, match="user24_lab.aedat"):
        ds[i]


# -- N-MNIST --------------------------------------------------------------------------------
def digit_events(rng, n=50):
    return make_events(
        rng.integers(0, 34, n), rng.integers(0, 34, n), np.sort(rng.integers(0, 300_000, n)), rng.integers(0, 2, n)
    )


@pytest.fixture(scope="module")
def nmnist_small_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("nmnist_small")
    rng = np.random.default_rng(0)
    train = [(i, i % 10) for i in range(1, 13)]
    test = [(60001, 7), (60002, 2), (60003, 0)]
    for sid, _ in train + test:
        write_nmnist(root / f"{sid}.bs2", digit_events(rng))
    (root / "train1K.txt").write_text("#sample #class\r\n" + "".join(f"{i}\t{c}\r\n" for i, c in train))
    (root / "test100.txt").write_text("#sample #class\r\n" + "".join(f"{i}\t{c}\r\n" for i, c in test))
    return root


def test_nmnist_small_layout(nmnist_small_root):
    ds = get_dataset("nmnist", nmnist_small_root)
    assert ds.layout == "small" and ds.classes == [str(d) for d in range(10)]
    train, test = ds.split("train"), ds.split("test")
    assert len(train) == 12 and len(test) == 3
    assert list(test.labels) == [7, 2, 0]
    assert not set(train.ids) & set(test.ids)
    s = test[0]
    assert s.is_events and s.meta["sensor_size"] == (34, 34, 2) and s.data.size == 50
    assert s.data["x"].max() < 34 and np.all(np.diff(s.data["t"]) >= 0)


def test_nmnist_as_accumulated_frames(nmnist_small_root):
    events = get_dataset("nmnist", nmnist_small_root).split("test")[0].data
    clip = get_dataset("nmnist", nmnist_small_root, frames=4).split("test")[0].data
    assert clip.shape == (4, 34, 34) and clip.dtype == np.float32 and clip.max() == 1.0
    # every event counted once, in the frame of its time bin, at its pixel
    counts = np.zeros((4, 34, 34))
    t = events["t"].astype(np.int64)
    b = (4 * (t - t.min())) // (t.max() - t.min() + 1)
    np.add.at(counts, (b, events["y"].astype(int), events["x"].astype(int)), 1)
    np.testing.assert_allclose(clip, counts / counts.max(), rtol=1e-6)
    for bad in (0, 2.5, True):
        with pytest.raises(ValueError, match="frames"):
            get_dataset("nmnist", nmnist_small_root, frames=bad)


def test_nmnist_full_layout_and_bad_sizes(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "nmnist"
    for split, digits in (("Train", (0, 3, 9)), ("Test", (3, 5))):
        for d in digits:
            write_nmnist(root / split / str(d) / "00001.bin", digit_events(rng))
    ds = get_dataset("nmnist", root)
    assert ds.layout == "full" and len(ds) == 5
    assert list(ds.split("train").labels) == [0, 3, 9]
    assert list(ds.split("test").labels) == [3, 5]
    assert ds[0].data.size == 50
    (root / "Test" / "5" / "00002.bin").write_bytes(b"\x00" * 7)  # not a multiple of 5
    ds = get_dataset("nmnist", root)
    with pytest.raises(StimulusError, match="00002.bin"):
        ds[ds.ids.index("test/5/00002")]
    with pytest.warns(BadFileWarning, match="skipped 1 bad file"):
        ok = get_dataset("nmnist", root, skip_bad=True)
    assert len(ok) == 5 and ok.bad_files[0][0].endswith("00002.bin")


def test_nmnist_bad_list_file(tmp_path):
    (tmp_path / "train1K.txt").write_text("#sample #class\n1\tseven\n")
    with pytest.raises(StimulusError, match="train1K.txt"):
        get_dataset("nmnist", tmp_path)


# -- Weizmann -------------------------------------------------------------------------------
WZ_CLASSES = ("bend", "run", "wave1")


@pytest.fixture(scope="module")
def weizmann_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("weizmann")
    rows, split = [], {}
    for cls in WZ_CLASSES:
        split[cls] = {}
        for seq in range(1, 5):
            s = f"{seq:02d}"
            folder = root / "grayscale" / cls / s
            folder.mkdir(parents=True)
            n = 11 + seq
            for k in range(1, n + 1):  # image10 must come after image9
                grey = np.full((12, 16), 20 * (k % 12), np.uint8)
                cv2.imwrite(str(folder / f"image{k}.jpg"), np.dstack([grey] * 3))
            part = "test" if seq >= 3 else "train"
            split[cls][s] = part
            rows.append(f"{cls},{s},{n},{part},grayscale/{cls}/{s}")
    (root / "index.csv").write_text("class,sequence,n_frames,split,frames_dir\n" + "\n".join(rows) + "\n")
    (root / "split_by_sequence.json").write_text(json.dumps(split))
    return root


def test_weizmann_loads_frames_in_numeric_order(weizmann_root):
    ds = get_dataset("weizmann", weizmann_root)
    assert ds.classes == list(WZ_CLASSES) and len(ds) == 12
    s = ds[ds.ids.index("run_02")]
    assert s.data.shape == (13, 12, 16) and s.meta["n_frames"] == 13
    levels = np.rint(s.data.mean(axis=(1, 2)) * 255 / 20).astype(int)
    assert list(levels) == [k % 12 for k in range(1, 14)]


def test_weizmann_official_and_leave_one_subject_out(weizmann_root):
    ds = get_dataset("weizmann", weizmann_root)
    train, test = ds.split("train"), ds.split("test")
    assert len(train) == 6 and len(test) == 6
    assert set(test.meta_values("sequence")) == {"03", "04"}
    loso_test, loso_train = ds.split("test", subject=2), ds.split("train", subject="02")
    assert set(loso_test.meta_values("subject")) == {"02"} and len(loso_test) == 3
    assert "02" not in set(loso_train.meta_values("subject")) and len(loso_train) == 9
    with pytest.raises(ValueError, match="subject '07'"):
        ds.split("test", subject="07")


def test_weizmann_scan_without_index_and_empty_sequence(weizmann_root, tmp_path):
    root = tmp_path / "wz"
    for cls in ("bend", "jack"):
        (root / "grayscale" / cls / "01").mkdir(parents=True)
        for k in (1, 2):
            cv2.imwrite(str(root / "grayscale" / cls / "01" / f"image{k}.jpg"), np.zeros((8, 8, 3), np.uint8))
    ds = get_dataset("weizmann", root)
    assert len(ds) == 2 and ds[1].data.shape == (2, 8, 8)
    with pytest.raises(StimulusError, match="official split"):
        ds.split("train")
    (root / "grayscale" / "jack" / "01" / "image2.jpg").write_bytes(b"broken")
    with pytest.raises(StimulusError, match="image2.jpg"):
        ds[1]


# -- generic folder -------------------------------------------------------------------------
def test_folder_of_videos_and_frame_folders_with_seeded_stratified_split(tmp_path):
    root = tmp_path / "clips"
    for cls, n in (("a", 8), ("b", 4)):
        for k in range(n):
            if k % 2:
                write_video(root / cls / f"clip{k}.avi", ramp_clip(3))
            else:
                (root / cls / f"clip{k}").mkdir(parents=True)
                for j in (1, 2, 3):
                    cv2.imwrite(str(root / cls / f"clip{k}" / f"{j:03d}.png"), np.full((24, 32), 50 * j, np.uint8))
    ds = get_dataset("folder", root)
    assert ds.classes == ["a", "b"] and len(ds) == 12
    assert all(ds[i].data.shape == (3, 24, 32) for i in range(len(ds)))
    parts = {n: ds.split(n, test_fraction=0.25, val_fraction=0.25, seed=5) for n in ("train", "val", "test")}
    assert [list(np.bincount(p.labels, minlength=2)) for p in parts.values()] == [[4, 2], [2, 1], [2, 1]]
    ids = [set(p.ids) for p in parts.values()]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert ds.split("test", seed=5, test_fraction=0.25, val_fraction=0.25).ids == parts["test"].ids
    other = [ds.split("test", seed=s).ids for s in range(6)]
    assert len({tuple(o) for o in other}) > 1  # the seed matters
    with pytest.raises(ValueError, match="test_fraction"):
        ds.split("test", test_fraction=1.5)


def test_subset_keeps_type_and_settings(kth_root):
    ds = get_dataset("kth", kth_root, subsequences=False, max_frames=2)
    sub = ds.subset([3, 1])
    assert type(sub) is type(ds) and len(sub) == 2
    assert sub.ids == [ds.ids[3], ds.ids[1]] and sub[0].data.shape[0] == 2
    with pytest.raises(IndexError):
        ds.subset([len(ds)])
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_registry_options_are_checked_before_the_files(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match="unknown option"):
            get_dataset("nmnist", tmp_path / "missing", size=(3, 3))


# -- real data (slow) ----------------------------------------------------------------------
@pytest.mark.slow
def test_real_weizmann_loads_completely(shared_data):
    root = shared_data / "weizmann"
    if not root.is_dir():
        pytest.skip(f"Weizmann frames not found at {root}")
    ds = get_dataset("weizmann", root)
    assert len(ds) == 93 and len(ds.classes) == 10
    train, test = ds.split("train"), ds.split("test")
    assert (len(train), len(test)) == (73, 20)
    assert not set(train.ids) & set(test.ids)
    for s in ds:
        assert s.data.dtype == np.float32 and s.data.shape[1:] == (144, 180)
        assert s.data.shape[0] == s.meta["n_frames"] and 7 <= s.data.shape[0] <= 35
        assert 0.0 <= s.data.min() and s.data.max() <= 1.0


@pytest.mark.slow
def test_real_nmnist_small_loads(shared_data):
    root = shared_data / "nmnist_small"
    if not root.is_dir():
        pytest.skip(f"N-MNIST subset not found at {root}")
    ds = get_dataset("nmnist", root)
    train, test = ds.split("train"), ds.split("test")
    assert (len(train), len(test)) == (1000, 100)
    assert set(train.labels) == set(range(10)) and set(test.labels) <= set(range(10))
    sizes = []
    for s in ds:
        assert s.data["x"].max() < 34 and s.data["y"].max() < 34
        sizes.append(s.data.size)
    assert 1000 <= min(sizes) and max(sizes) <= 8000


def test_images_dataset_is_the_seeded_stratified_digits_split():
    from sklearn.datasets import load_digits

    ds = get_dataset("images")
    train, test = ds.split("train"), ds.split("test")
    assert (len(train), len(test)) == (1347, 450)
    assert not set(train.ids) & set(test.ids)
    digits = load_digits()
    k = test.items[0].meta["index"]
    np.testing.assert_allclose(test[0].data[0], digits.images[k] / 16.0)
    assert test[0].label == digits.target[k] and test[0].data.shape == (1, 8, 8)
    # every class in both splits in proportion, and the same split every time
    assert np.bincount(test.labels, minlength=10).min() >= 43  # 174-183 per class, a quarter each
    assert get_dataset("images").split("test").ids == test.ids
    assert get_dataset("images", seed=1).split("test").ids != test.ids
    with pytest.raises(ValueError, match="no root"):
        get_dataset("images", "/tmp")
