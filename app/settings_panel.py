"""Settings a user changes before a run: preset, frame count, training resolution, time budget, masking.

The panel edits a handful of keys of the one config tree (``nerfie.recon.config``) and hands back
``with_overrides(preset, …)`` — the same config the CLI builds from ``--preset`` and ``--set``.
"""

from __future__ import annotations

from PySide6.QtWidgets import QCheckBox, QComboBox, QDoubleSpinBox, QFormLayout, QGroupBox, QLabel, QSpinBox, QWidget

from nerfie.recon.autotune import is_auto
from nerfie.recon.config import PRESET_DESCRIPTIONS, NerfieConfig, preset, with_overrides


class SettingsPanel(QGroupBox):
    def __init__(self, default_preset: str, parent: QWidget | None = None) -> None:
        super().__init__("", parent)  # the dock around it carries the title
        self.preset = QComboBox()
        self.preset.addItems(list(PRESET_DESCRIPTIONS))
        self.preset.setCurrentText(default_preset)
        self.help = QLabel()
        self.help.setWordWrap(True)
        self.help.setStyleSheet("color: #6b7480;")
        self.frames = QSpinBox()
        self.frames.setRange(20, 400)
        self.frames.setToolTip("How many sharp, evenly spread frames to take from the video")
        self.resolution = QSpinBox()
        self.resolution.setRange(32, 4096)
        self.resolution.setSingleStep(32)
        self.resolution.setSuffix(" px")
        self.resolution.setToolTip("Train on the image size whose long side fits this")
        self.minutes = QDoubleSpinBox()
        self.minutes.setRange(0.0, 24 * 60)
        self.minutes.setDecimals(1)
        self.minutes.setSuffix(" min")
        self.minutes.setSpecialValueText("no limit")
        self.minutes.setToolTip("Stop training after this long (0 = run all steps)")
        self.masks = QCheckBox("Mask the person for camera tracking")
        self.masks.setToolTip("Ignore the moving face when estimating camera poses (recommended for selfies)")
        form = QFormLayout(self)
        form.addRow("Preset", self.preset)
        form.addRow(self.help)
        form.addRow("Frames", self.frames)
        form.addRow("Resolution", self.resolution)
        form.addRow("Time budget", self.minutes)
        form.addRow(self.masks)
        self.preset.currentTextChanged.connect(self._load_preset)
        self._load_preset(default_preset)

    def _load_preset(self, name: str) -> None:
        cfg = preset(name)
        self.help.setText(PRESET_DESCRIPTIONS.get(name, ""))
        self.show_config(cfg)

    def show_config(self, cfg: NerfieConfig) -> None:
        """Display ``cfg`` (a reopened project's settings)."""
        self.preset.blockSignals(True)
        self.preset.setCurrentText(cfg.preset)
        self.preset.blockSignals(False)
        self.help.setText(PRESET_DESCRIPTIONS.get(cfg.preset, ""))
        # auto picks the training resolution with the model size; the box shows what it will start from
        auto = is_auto(cfg)
        self.resolution.setEnabled(not auto)
        self.resolution.setToolTip("Chosen by the auto preset from this machine's measured speed"
                                   if auto else "Train on the image size whose long side fits this")
        self.frames.setValue(cfg.ingest.target_frames)
        self.resolution.setValue(cfg.train.max_image_side)
        self.minutes.setValue(cfg.train.minutes)
        self.masks.setChecked(cfg.ingest.masks)

    def config(self) -> NerfieConfig:
        return with_overrides(preset(self.preset.currentText()), {
            "ingest.target_frames": self.frames.value(), "train.max_image_side": self.resolution.value(),
            "train.minutes": self.minutes.value(), "ingest.masks": self.masks.isChecked(),
        })
