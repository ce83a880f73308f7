"""The paper's published numbers, stored once, as data.

Source: A.-C. Baias, "Hubert-LSTM", Engineering World 6 (2024), section 8
(`seed/000_7671b677b32602c7.txt` beside DESIGN.md). The numbers are
recorded as stated, inconsistencies included; `NOTES` lists what could not
be read unambiguously or does not add up. None means "not stated" or "not
readable from the text".

Variant keys are kser's: `dense` (the paper's Hubert, also called
"HuBert-noaugmentation"), `dense-aug` (Hubert-aug, "HuBert-augmentation")
and `lstm` (Hubert-LSTM).
"""

# The paper's model names, by kser variant.
PAPER_NAMES = {"dense": "Hubert", "dense-aug": "Hubert-aug", "lstm": "Hubert-LSTM"}

EMOTION_ORDER = (
    "neutral", "calm", "happy", "sad", "angry", "fearful", "disgust",
    "surprised",
)

# --- Table I: test accuracy per paper fold (1..12) ------------------------
# The text layout prints only two value columns ("Hubert", "Hub-aug") for
# folds 1-10. Rows 11 and 12 each carry a single value (0.716 and 0.705)
# whose column cannot be told; both are left None (see NOTES). The
# Hubert-LSTM column is missing from the text altogether; only its best
# fold (3, actors 07/08, 0.891) is stated, in the prose.
TABLE1 = {
    "dense": {
        1: 0.691, 2: 0.771, 3: 0.833, 4: 0.574, 5: 0.775, 6: 0.566,
        7: 0.591, 8: 0.750, 9: 0.708, 10: 0.666, 11: None, 12: None,
    },
    "dense-aug": {
        1: 0.775, 2: 0.824, 3: 0.841, 4: 0.641, 5: 0.683, 6: 0.541,
        7: 0.625, 8: 0.700, 9: 0.700, 10: 0.708, 11: None, 12: None,
    },
    "lstm": {
        1: None, 2: None, 3: 0.891, 4: None, 5: None, 6: None,
        7: None, 8: None, 9: None, 10: None, 11: None, 12: None,
    },
}
# The single, unattributable values printed on rows 11 and 12.
TABLE1_UNATTRIBUTED = {11: 0.716, 12: 0.705}
TABLE1_BEST = {
    "dense": {"fold": 3, "value": 0.833},
    "dense-aug": {"fold": 3, "value": 0.841},
    "lstm": {"fold": 3, "value": 0.891},
}
TABLE1_MEAN = {"dense": 0.696, "dense-aug": 0.705, "lstm": 0.735}
# The paper's poorest fold for every model: actors 13 and 14 (fold 6).
TABLE1_WORST_FOLD = 6
BEST_FOLD = 3

# --- Tables II-IV: per-epoch history on the best fold ---------------------
# Columns as in the paper: train accuracy, validation accuracy, train loss,
# validation loss; the test accuracy and loss of the kept weights.
HISTORY_COLUMNS = ("accuracy", "val_accuracy", "loss", "val_loss")
HISTORIES = {
    "lstm": {
        "table": "II",
        "fold": 3,
        "epochs": [
            {"epoch": 1, "accuracy": 0.216, "val_accuracy": 0.324, "loss": 1.975, "val_loss": 1.627},
            {"epoch": 2, "accuracy": 0.421, "val_accuracy": 0.508, "loss": 1.546, "val_loss": 1.259},
            {"epoch": 3, "accuracy": 0.553, "val_accuracy": 0.570, "loss": 1.208, "val_loss": 1.038},
            {"epoch": 4, "accuracy": 0.642, "val_accuracy": 0.675, "loss": 0.970, "val_loss": 0.840},
            {"epoch": 5, "accuracy": 0.723, "val_accuracy": 0.763, "loss": 0.779, "val_loss": 0.6881},
            {"epoch": 6, "accuracy": 0.805, "val_accuracy": 0.824, "loss": 0.580, "val_loss": 0.689},
        ],
        "test_accuracy": 0.891,
        "test_loss": 0.459,
    },
    "dense-aug": {
        "table": "III",
        "fold": 3,
        "epochs": [
            {"epoch": 1, "accuracy": 0.274, "val_accuracy": 0.385, "loss": 1.843, "val_loss": 1.378},
            {"epoch": 2, "accuracy": 0.502, "val_accuracy": 0.622, "loss": 1.291, "val_loss": 1.150},
            {"epoch": 3, "accuracy": 0.621, "val_accuracy": 0.719, "loss": 1.010, "val_loss": 0.687},
            {"epoch": 4, "accuracy": 0.777, "val_accuracy": 0.763, "loss": 0.678, "val_loss": 0.619},
            {"epoch": 5, "accuracy": 0.793, "val_accuracy": 0.859, "loss": 0.578, "val_loss": 0.499},
        ],
        "test_accuracy": 0.841,
        "test_loss": 0.625,
    },
    "dense": {
        "table": "IV",
        "fold": 3,
        # Table IV has no train-loss column.
        "epochs": [
            {"epoch": 1, "accuracy": 0.272, "val_accuracy": 0.5, "loss": None, "val_loss": 1.317},
            {"epoch": 2, "accuracy": 0.545, "val_accuracy": 0.578, "loss": None, "val_loss": 1.182},
            {"epoch": 3, "accuracy": 0.675, "val_accuracy": 0.728, "loss": None, "val_loss": 0.825},
            {"epoch": 4, "accuracy": 0.768, "val_accuracy": 0.763, "loss": None, "val_loss": 0.694},
            {"epoch": 5, "accuracy": 0.845, "val_accuracy": 0.859, "loss": None, "val_loss": 0.504},
        ],
        "test_accuracy": 0.833,
        "test_loss": 0.411,
    },
}
# The paper trains each model for as many epochs as its table shows.
PAPER_EPOCHS = {v: len(h["epochs"]) for v, h in HISTORIES.items()}

# --- Figures: per-class results on the best fold --------------------------
# The best fold tests 2 actors: 8 neutral clips and 16 of every other class.
SUPPORT = {e: (8 if e == "neutral" else 16) for e in EMOTION_ORDER}

# Correct predictions per class (Figures 3, 6, 10), None when not stated.
# Where the prose gives no count but a recall, the count is recall x 16
# (marked in CORRECT_SOURCES).
CORRECT = {
    "lstm": {  # Figure 3
        "neutral": 4, "calm": 15, "happy": 15, "sad": 12, "angry": 16,
        "fearful": 16, "disgust": 16, "surprised": 14,
    },
    "dense-aug": {  # Figure 6
        "neutral": 4, "calm": 15, "happy": 13, "sad": 15, "angry": 13,
        "fearful": 15, "disgust": 15, "surprised": 11,
    },
    "dense": {  # Figure 10: only happy and angry are stated
        "neutral": None, "calm": None, "happy": 16, "sad": None,
        "angry": 16, "fearful": None, "disgust": None, "surprised": None,
    },
}
CORRECT_SOURCES = {
    "lstm": {"calm": "recall 93.75% (Figure 5 prose)",
             "disgust": "recall 100% (Figure 5 prose)"},
    "dense-aug": {},
    "dense": {},
}

# Per-class precision, recall and F1 (Figures 5, 8, 11), as fractions.
PER_CLASS = {
    "lstm": {  # Figure 5
        "neutral": {"precision": 0.80, "recall": 0.50, "f1": 0.6154},
        "calm": {"precision": 0.7895, "recall": 0.9375, "f1": 0.8571},
        "happy": {"precision": 0.7143, "recall": 0.9375, "f1": 0.8108},
        "sad": {"precision": 1.0, "recall": 0.75, "f1": 0.8571},
        "angry": {"precision": 0.9412, "recall": 1.0, "f1": 0.9697},
        "fearful": {"precision": 1.0, "recall": 1.0, "f1": 1.0},
        "disgust": {"precision": 1.0, "recall": 1.0, "f1": 1.0},
        "surprised": {"precision": 0.9333, "recall": 0.875, "f1": 0.9032},
    },
    "dense-aug": {  # Figure 8: happy, fearful, disgust, surprised as ranges only
        "neutral": {"precision": 0.6667, "recall": 0.50, "f1": 0.5714},
        "calm": {"precision": 0.5769, "recall": 0.9375, "f1": 0.7143},
        "happy": {"precision": None, "recall": None, "f1": None},
        "sad": {"precision": 0.9375, "recall": 0.9375, "f1": 0.9375},
        "angry": {"precision": None, "recall": None, "f1": None},
        "fearful": {"precision": None, "recall": None, "f1": None},
        "disgust": {"precision": None, "recall": None, "f1": None},
        "surprised": {"precision": None, "recall": None, "f1": None},
    },
    "dense": {  # Figure 11
        "neutral": {"precision": None, "recall": None, "f1": None},
        "calm": {"precision": None, "recall": None, "f1": None},
        "happy": {"precision": 0.941, "recall": 0.941, "f1": 0.941},
        "sad": {"precision": 0.65, "recall": 0.867, "f1": None},
        "angry": {"precision": 0.889, "recall": 0.842, "f1": None},
        "fearful": {"precision": 0.789, "recall": 0.938, "f1": 0.857},
        "disgust": {"precision": 1.0, "recall": 0.647, "f1": None},
        "surprised": {"precision": 1.0, "recall": 0.917, "f1": 0.957},
    },
}
# Overall accuracy stated with the confusion matrices.
FIGURE_ACCURACY = {"lstm": 0.8917, "dense-aug": 0.841, "dense": 0.833}
FIGURES = {
    "lstm": {"counts": "Figure 3", "confusion": "Figure 5", "curves": "Figure 4"},
    "dense-aug": {"counts": "Figure 6", "confusion": "Figure 8", "curves": "Figure 7"},
    "dense": {"counts": "Figure 10", "confusion": "Figure 11", "curves": "Figure 9"},
}

# --- EmoBox reference points: RAVDESS, 6 speaker folds, WA % -------------
EMOBOX_RAVDESS_WA = {
    "HuBERT base": 66.21,
    "HuBERT large": 70.29,
    "WavLM large": 72.22,
    "Whisper large v3": 75.87,
}

NOTES = (
    "Table I: the text shows only the Hubert and Hub-aug columns for folds "
    "1-10; the Hubert-LSTM column is missing, so only its best fold "
    "(fold 3, 0.891, from the prose) is recorded.",
    "Table I rows 11 and 12 each print one value (0.716, 0.705) whose column "
    "cannot be told; they are recorded as None (TABLE1_UNATTRIBUTED keeps "
    "them). With both in both columns the 12-fold means would be 0.6955 "
    "(Hubert) and 0.7049 (Hub-aug), consistent with the stated 0.696 and "
    "0.705.",
    "Table II: the prose gives the LSTM's minimum validation loss as 0.688 "
    "while the table has 0.6881 at epoch 5 and 0.689 at epoch 6, and the "
    "best validation accuracy as 82.45% (table: 0.824).",
    "Figure 3 (Hubert-LSTM) counts 4+15+15+12+16+16+16+14 = 108 of 120 test "
    "clips (0.900), not the stated 0.891 / 89.17% (107/120); the counts "
    "are recorded as stated.",
    "Figure 6 (Hubert-aug) counts sum to 101 of 120 (0.842), consistent "
    "with 0.841.",
    "Figure 11 (Hubert): recalls such as 0.867, 0.842, 0.647 and 0.917 are "
    "not multiples of 1/16, and happy's recall 0.941 contradicts Figure "
    "10's 16 of 16; the values are recorded as stated.",
    "Table IV has no train-loss column; the prose quotes 27.25% and 84.5% "
    "train accuracy and 85.96% validation accuracy at epoch 5.",
)


def table1_column(variant):
    """The paper's Table I values for a variant: fold -> float or None."""
    return dict(TABLE1.get(variant, {}))
