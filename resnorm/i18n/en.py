"""English texts. The config fields' help comes from the config schema (``resnorm.science.config``) and the
residual modes' help from the variant table (``resnorm.science.variants``): English is written once, there."""
from __future__ import annotations

import dataclasses

from ..science import variants
from ..science.config import SECTIONS

_LABELS = {"d_model": "d_model (width)", "d_ff": "d_ff (MLP width)", "norm_position": "norm position",
           "norm": "norm type", "residual": "residual", "mlp": "MLP sublayer", "lr": "learning rate",
           "grad_clip": "gradient clip (0 = off)", "probe_every": "probe every N steps (0 = off)",
           "attention_every": "attention maps every N steps", "eval_every": "validation every N steps",
           "vocab_size": "alphabet size", "seq_len": "sequence length", "mask_prob": "mask fraction (masked LM)",
           "batch_size": "batch size", "weight_decay": "weight decay", "autocast": "autocast (mixed precision)"}

TEXT: dict[str, str] = {}
for _cls in SECTIONS.values():
    for _f in dataclasses.fields(_cls):
        TEXT[f"field.{_f.name}.label"] = _LABELS.get(_f.name, _f.name.replace("_", " "))
        TEXT[f"field.{_f.name}.help"] = _f.metadata["help"]
for _m in variants.RESIDUAL_MODES.values():
    TEXT[f"residual.{_m.name}.help"] = _m.help

TEXT.update({
    # ---- the frame ---------------------------------------------------------------------------------
    "app.name": "resnorm",
    "app.caption": "resnorm {version} · residual connections and normalization, live",
    "app.language": "Language",
    "app.language_help": "Every label, help text and lesson in English or Simplified Chinese; "
                         "a link with lang=zh opens the app in Chinese.",
    "page.live": "Live training",
    "page.compare": "Compare",
    "page.init": "At initialisation",
    "page.runs": "Runs",
    "page.lessons": "Lessons",

    # ---- status words (trainer and comparison statuses) ----------------------------------------------
    "status.idle": "idle",
    "status.running": "running",
    "status.paused": "paused",
    "status.completed": "completed",
    "status.stopped": "stopped",
    "status.diverged": "diverged",
    "status.failed": "failed",
    "event.diverged": "diverged",
    "event.grad jump": "grad jump",
    "event.entropy collapse": "entropy collapse",
    "event.stalled": "stalled at the unigram loss",
    "caution.dyt_after_add": ":material/info: DyT after the addition (Post-LN or DeepNorm position) is not the paper's "
                             "setting: Zhu et al. 2025 put DyT where Pre-LN's norms are. Here every block ends in "
                             "γ·tanh(a·x) with a = 0.5, which shrinks the stream: measured at initialisation "
                             "(decoder, d_model 32, Xavier, 3 seeds) Post-LN's mean square falls from 0.09 after "
                             "the first block to 4·10⁻⁶–7·10⁻⁶ after 6 blocks and 2·10⁻²¹–10⁻²⁰ after 24 — the "
                             "stream vanishes; DeepNorm's α·x holds it at 0.03 (6 blocks) and 0.58 (24). Allowed, "
                             "because it is instructive.",
    "live.not_held_out": "Validation is not held out: this task has only {n} distinct examples, too few to set "
                         "any aside, so the validation loss is measured on examples the model also trains on.",

    # ---- messages that come from the package, recognised and translated ------------------------------
    "msg.run_in_progress": "A run is already in progress: stop it first.",
    "msg.compare_in_progress": "A comparison is already running: stop it first.",

    # ---- sidebar controls (ui/controls.py) ------------------------------------------------------------
    "group.model": "Model",
    "group.block": "Block: norm and residual",
    "group.task": "Task",
    "group.training": "Training",
    "group.hardware": "Hardware",
    "group.probes": "Probes",
    "controls.fits": "Fits: {fits}",
    "controls.text_file": "Text file (UTF-8)",
    "controls.text_file_help": "Up to {limit}; trained character by character.",
    "controls.paste": "…or paste text",
    "controls.need_text": "text-lm needs text: upload a file of at most {limit} or paste some",
    "controls.uploaded_file": "the uploaded file",
    "controls.pasted_text": "the pasted text",
    "fits.x ⟂ x": "x ⟂ x",
    "fits.x ⟂ reversed(x)": "x ⟂ reversed(x)",
    "fits.x ⟂ sorted(x)": "x ⟂ sorted(x)",
    "fits.per position": "per position",
    "fits.seq2seq": "seq2seq",
    "fits.a+b = sum (digits least-significant first)": "a+b = sum (digits least-significant first)",
    "fits.causal LM": "causal LM",
    "fits.masked LM": "masked LM",

    # ---- Live training (app_pages/live.py, ui/live.py) ---------------------------------------------
    "live.title": "Live training",
    "live.caption": "Flip the residual path or move the norm, press Train, and watch what changes inside.",
    "live.block_heading": "**Each sublayer F (attention, MLP) updates the residual stream x as**",
    "live.position_note": "Position **{pos}** — {source}.",
    "live.residual_note": "Residual **{res}** — {help}.",
    "live.final_norm_note": "A final norm is applied before the output head.",
    "live.fix_first": "Fix the settings first: {problems}",
    "live.in_progress": "A run is in progress.",
    "init.url_ignored": "{name} (not a setting of this page)",
    "init.url_out_of_range": "{name}={value} (must be between {lo} and {hi} on this page)",
    "init.url_task": "task={value} (this page offers the tasks that need no upload)",
    "app.bad_settings": "This server's settings are wrong; fix them and restart it "
                        "(`streamlit run app.py`):\n{problems}",
    "job.preempted": "Stopped after {seconds} s paused while others waited for a training slot; what it "
                     "recorded is kept. Train again to take your place in the queue.",
    "live.queued": "Queued: position {position} — training slots in use: {running} of {capacity}. "
                   "Your run starts by itself when one frees; Stop leaves the queue.",
    "compare.queued": "Queued: position {position} — training slots in use: {running} of {capacity}. "
                      "The comparison starts by itself when one frees; Stop all leaves the queue.",
    "lessons.queued": "Queued: position {position} — training slots in use: {running} of {capacity}. "
                      "The experiment starts by itself when one frees; Stop leaves the queue.",
    "live.train": "Train",
    "live.train_help": "Train this configuration",
    "live.pause": "Pause",
    "live.resume": "Resume",
    "live.stop": "Stop",
    "live.reset": "Reset",
    "live.reset_help": "Stop and clear this run's charts",
    "live.start_hint": "Choose a block design in the sidebar and press **Train**.",
    "live.progress": "{icon} **{status}** · step {step}/{total} · {rate:.1f} steps/s · {elapsed:.1f} s",
    "live.diverged": "Diverged at step {step}: {reason}. Metrics up to that step are kept.",
    "live.failed": "The run failed: {reason}",
    "live.saved": "Saved to `{path}` — see the Runs page.",
    "live.not_saved": "Not saved: {error}. The metrics can still be downloaded under Export.",
    "live.view": "view",
    "view.Loss": "Loss",
    "view.Residual stream": "Residual stream",
    "view.Gradients": "Gradients",
    "view.Ratios": "Ratios",
    "view.Attention": "Attention",
    "view.Rank": "Rank",
    "live.log_scale": "log scale",
    "live.resid_by_layer": "Residual-stream RMS by layer",
    "live.rms": "RMS",
    "live.no_attention": "Attention maps appear at the first capture (set in Probes).",
    "live.layer": "layer",
    "live.head": "head",
    "live.all_heads": "all",
    "live.export": "Export",
    "live.export_html": "chart as standalone HTML (works offline)",
    "live.export_png": "PNG: use the camera icon in each chart's toolbar.",
    "export.loss": "loss",
    "export.residual": "residual",
    "export.depth": "depth",
    "export.gradients": "gradients",
    "export.ratios": "ratios",
    "export.rank": "rank",

    # ---- links and code (ui/share.py) ----------------------------------------------------------------
    "share.not_from_links.text_file": "a server path cannot be set from a link; upload or paste the text",
    "share.ignored": "Ignored from the link: {items}",
    "share.no_settings": "{name} (this page takes no settings from a link)",
    "share.lang_unknown": "lang={value} (not a language of this app; choose one of: {langs})",
    "share.panel": "Share: link and code",
    "share.link": "Link to exactly this setup (copy with the icon at the right):",
    "share.cli": "The same run from the command line:",
    "share.python": "…and from Python:",

    # ---- Compare (app_pages/compare.py, ui/compare_view.py) --------------------------------------------
    "compare.title": "Compare",
    "compare.caption": "The sidebar sets what the configs share; the columns below set what differs. "
                       "All of them train together: same seed, same batches, same step clock.",
    "compare.n_configs": "configs",
    "compare.n_configs_help": "How many variants to train side by side",
    "compare.config": "**Config {letter}**",
    "compare.fix_first": "Fix the settings first: {problems}",
    "compare.running": "A comparison is running.",
    "compare.train_all": "Train all",
    "compare.train_all_help": "Start every config together",
    "compare.stop_all": "Stop all",
    "compare.start_hint": "Choose the variants above and press **Train all**: they train in lockstep, same data, "
                          "same seed.",
    "compare.progress": "**{status}** · step {step}/{total} · {elapsed:.1f} s",
    "compare.train_loss": "Training loss",
    "compare.grad_norm": "Global gradient norm",
    "compare.val_loss": "Validation loss",
    "compare.diff_with": "difference view against A",
    "compare.grad_profiles": "Gradient norm per layer (first step in grey)",
    "compare.resid_profiles": "Residual-stream RMS per layer",
    "compare.target": "target loss (for “steps to reach”)",
    "compare.saved": "Saved to {names} — see the Runs page.",
    "compare.not_saved": "Not saved: {error}",
    "compare.verdict": "**Verdict**",
    "compare.so_far": "**So far**",
    "verdict.diverged": "{label}: diverged at step {step}",
    "verdict.final": "{label}: final loss {loss} after {steps} steps ({status})",
    "verdict.reached": "reached loss ≤ {target} at step {step}",
    "verdict.never": "never reached loss ≤ {target}",
    "verdict.events": " — events: {events}",
    "verdict.event": "{kind} at step {step}",
    "verdict.na": "n/a",

    # ---- At initialisation (app_pages/init.py, ui/init_view.py) -----------------------------------------
    "init.title": "At initialisation",
    "init.caption": "Before the first step, a block design already decides how the signal and its gradient "
                    "travel through depth. Pick up to four designs; every chart overlays them, with the seed "
                    "spread as a band.",
    "init.depth_and_seeds": "Depth and seeds",
    "init.depth": "depth range (blocks)",
    "init.depth_help": "Per-layer charts use the deepest model; the depth chart sweeps the range "
                       "({points} depths at most).",
    "init.seeds": "seeds",
    "init.seeds_help": "Each seed draws new weights and a new batch; the band shows their spread.",
    "init.band": "seed band",
    "init.band.minmax": "min – max",
    "init.band.std": "mean ± std",
    "init.shared": "Shared by all configs",
    "init.task": "task",
    "init.preset": "Start from a comparison",
    "init.preset_help": "Fills the configs below; change any of them afterwards.",
    "init.n_configs": "configs",
    "preset.Post-LN vs Pre-LN (Xiong et al. 2020)": "Post-LN vs Pre-LN (Xiong et al. 2020)",
    "preset.Pre-LN: LayerNorm vs RMSNorm vs DyT": "Pre-LN: LayerNorm vs RMSNorm vs DyT",
    "preset.Residual on vs off (Dong et al. 2021)": "Residual on vs off (Dong et al. 2021)",
    "preset.Taming Pre-LN growth: Pre-LN, Sandwich, DeepNorm, LN-Scaling":
        "Taming Pre-LN growth: Pre-LN, Sandwich, DeepNorm, LN-Scaling",
    "preset.Initialisation: xavier vs gpt2 vs torch (Pre-LN)": "Initialisation: xavier vs gpt2 vs torch (Pre-LN)",
    "name.position.post": "Post-LN",
    "name.position.pre": "Pre-LN",
    "name.position.sandwich": "Sandwich-LN",
    "name.position.deepnorm": "DeepNorm",
    "name.position.lns": "LN-Scaling",
    "name.position.none": "no norm",
    "name.norm.layernorm": "LayerNorm",
    "name.norm.rmsnorm": "RMSNorm",
    "name.norm.dyt": "DyT",
    "name.norm.batchnorm": "BatchNorm",
    "name.norm.none": "identity",
    "init.label.residual": "residual {value}",
    "init.label.init": "init {value}",
    "init.shared_problems": "Shared settings: {problems}",
    "init.cannot_build": "**{label}** cannot be built: {problems}",
    "init.failed": "**{label}** failed at initialisation: {error}",
    "init.nothing": "Nothing to show: fix the settings above.",
    "init.computing": "Computing…",
    "init.waiting_slot": "Waiting for a training slot (place {position} in the queue; {running} of {capacity} in "
                         "use): this page's computation counts like a training run.",
    "init.no_slot": "Every training slot is still busy after {seconds} s, so nothing was computed. "
                    "Rerun the page (press R) to try again.",
    "init.progress_profile": "At initialisation: {label}, {blocks} blocks",
    "init.progress_sweep": "Depth sweep: {label}, depths {lo}–{hi}",
    "init.against_depth": "##### Against depth",
    "init.depths": "Depths: {depths}.",
    "init.timing": ":material/timer: {configs} config(s) × {seeds} seed(s): {blocks}-block profile in "
                   "{t_profile:.2f} s, with the depth sweep {elapsed:.2f} s ({new} new forward/backward pass(es); "
                   "the rest from the cache).",
    "init.along_depth": "##### Along depth, {blocks} blocks",
    "init.chart.resid": "Residual-stream mean square after each block",
    "init.chart.grad": "Gradient norm per block",
    "init.chart.ratio": "How much the sublayer changes the stream, ‖x_out − x_in‖/‖x_in‖, {branch}",
    "init.chart.rank": "Rank residual after each block",
    "init.branch": "branch",
    "branch.attention": "attention",
    "branch.MLP": "MLP",
    "branch.cross-attention": "cross-attention",
    "init.log_scale_help": "Shows the doubly exponential collapse as a line",
    "init.rank_dong": "Dong's ℓ1,∞",
    "init.rank_dong_help": "The rank residual in Dong et al.'s composite norm √(‖R‖₁‖R‖_∞) instead of Frobenius",
    "init.thm1.title": "Theorem 1 (Xiong et al. 2020): the last block's gradient against the total depth",
    "init.thm1.what": "Theorem 1 bounds the gradient of the *last* layer's weights at initialisation: O(d·√ln d) "
                      "for Post-LN, whatever the total depth L, and O(d·√(ln d / L)) for Pre-LN, which shrinks like "
                      "L^-½ as the model gets deeper. It is not about the profile along one model's layers. This "
                      "panel builds Post-LN and Pre-LN versions of these settings at L = 2, 4, 8, 16, 32, 48 and plots "
                      "their last block's gradient norm, with the theorem's shapes (flat; ∝ L^-½) dashed through "
                      "each curve's first point. The bounds are upper bounds: a measured slope between them is "
                      "what to expect.",
    "init.thm1.compute": "Compute ({seeds} seed(s), L = 2…48)",
    "init.thm1.measured": "Measured over {seeds} seed(s) at L = {depths}: log-log slope of the median last-block "
                          "gradient {post:+.2f} for Post-LN (Theorem 1: flat, 0) and {pre:+.2f} for Pre-LN (Theorem 1: "
                          "−0.5 at most). At the lesson settings (decoder, d_model 32, reverse, 8 seeds) it was +0.21 "
                          "and −0.24.",
    "init.look.resid_ms": "**Look for:** Pre-LN adds every branch to a stream it never re-normalises, so the mean "
                          "square grows about linearly with the layer index (Xiong et al. 2020, Lemma 2: E‖x_ℓ‖² "
                          "grows like ℓ). Post-LN and DeepNorm normalise after each addition: the stream stays at "
                          "mean square 1 (LayerNorm with γ = 1, β = 0 at init).",
    "init.look.grad_norm": "**Look for:** the shape, not the level. Xiong et al. 2020, Fig. 3 (their translation "
                           "model): along the layers of one model at initialisation, Post-LN's gradient grows "
                           "towards the output — the reason it needs learning-rate warm-up — while Pre-LN's stays "
                           "about level. Their Theorem 1 is about the *total* depth L, not this profile: see "
                           "“Theorem 1” below. What this small model shows (decoder, d_model 32, reverse with 10 "
                           "symbols, T = 16, B = 16, GELU, Xavier; last/first block, median over 20 seeds at 6 / 12 "
                           "/ 24 blocks): Pre-LN's gradient falls along the layers in every seed (0.59 / 0.45 / "
                           "0.33); Post-LN's is about level (0.95 / 1.38 / 1.28, rising in only 40 / 75 / 55 % of "
                           "seeds). It rises clearly with ReLU on stdlib-lm (T = 32, B = 16): 1.84 / 1.41 / 2.14, "
                           "rising in 95 / 75 / 95 %.",
    "init.look.ratio": "**Look for:** how much one sublayer changes the stream, ‖x_out − x_in‖/‖x_in‖ with x_in the "
                       "stream entering the sublayer and x_out the stream after its whole update (ReZero's gate, "
                       "the 1/√(2L) scale, Sandwich's N_out, DeepNorm's αx and Post-LN's norm included: ReZero at "
                       "initialisation changes nothing, 0, which a log axis leaves out). The raw branch output "
                       "‖F‖/‖x‖ is also recorded (``*_out.ratio``) but is not this change. In Pre-LN "
                       "the stream grows while the normalised branch does not, so later layers contribute less "
                       "and less (the “curse of depth”, Sun et al. 2025, which LN-Scaling's 1/√ℓ addresses). "
                       "Post-LN's change stays of order one at every depth. Measured at initialisation (decoder, 12 "
                       "blocks, d_model 32, Xavier, 5 seeds), attention sublayer, first → last block: Pre-LN "
                       "0.36–0.44 → 0.23–0.25, LN-Scaling → 0.09–0.10, Post-LN 0.57–0.63 → 0.68–0.82, DeepNorm "
                       "0.33–0.35 → 0.02–0.03, ReZero exactly 0 (its raw branch ratio reads 0.63–0.76).",
    "init.look.rank_residual": "**Look for:** rank collapse. Attention averages tokens, so without skip "
                               "connections the tokens' representations collapse towards one vector doubly "
                               "exponentially with depth (Dong et al. 2021): the rank residual falls towards 0 "
                               "(try residual off, on a log scale). Skip connections hold it up; Post-LN, which "
                               "rescales the skip path at every block, still drifts down at init (Noci et al. "
                               "2022). What is computed: per sequence, ‖X − 1x̄ᵀ‖_F / ‖X‖_F with X the tokens × "
                               "d_model matrix and x̄ its token mean, averaged over sequences. Dong et al. use the "
                               "composite norm ‖R‖_{1,∞} = √(‖R‖₁‖R‖_∞) and the x̄ that minimises it; switch to "
                               "“Dong's ℓ1,∞” for that norm (with the token mean, an upper bound of their minimum). "
                               "Both are 0 exactly when all tokens are equal and the two norms are within fixed "
                               "factors of each other, so they fall alike: measured (encoder, 12 blocks, d_model 32, "
                               "3 seeds, medians) without skips 0.52 / 0.51 after block 1, 0.0039 / 0.0042 after "
                               "block 3, ~1.6·10⁻⁷ for both from block 5; with skips 0.87 → 0.56 / 0.87 → 0.51.",
    "init.look.depth": "**Look for:** Xiong et al. 2020, Theorem 1 — the last block's gradient is O(d·√ln d) for "
                       "Post-LN, independent of depth L, but O(d·√(ln d / L)) for Pre-LN: it shrinks as the model "
                       "gets deeper. And Pre-LN's stream after the last block grows ~linearly with L, Post-LN's "
                       "stays at 1. Encoder-decoder configs show the decoder stack (next to the output). The "
                       "“Theorem 1” panel below draws exactly that picture for L = 2…48 with the theorem's shapes.",

    # ---- Saved runs (app_pages/runs.py, ui/runs_view.py) ---------------------------------------------
    "runs.title": "Saved runs",
    "runs.header": "Runs folder: `{folder}` (set `RESNORM_RUNS_DIR` to change it) · {count}. The folder is "
                   "shared by everyone using this server.",
    "runs.count_one": "{n} run",
    "runs.count_many": "{n} runs",
    "runs.skipped_one": "Skipped or ignored {n} item in the runs folder:",
    "runs.skipped_many": "Skipped or ignored {n} items in the runs folder:",
    "runs.filter.norm_position": "norm position",
    "runs.filter.norm": "norm type",
    "runs.filter.residual": "residual",
    "runs.filter.status": "status",
    "runs.any": "any",
    "runs.none_match": "No saved runs match. Runs are saved here when a training ends (Live training, Compare), "
                       "and `python -m resnorm train --out runs/NAME` writes one from the command line.",
    "runs.col.date": "date",
    "runs.col.final loss": "final loss",
    "runs.col.layers": "layers",
    "runs.col.steps": "steps",
    "runs.open": "Open runs — one to see its charts, several to overlay them",
    "runs.choose": "choose runs",
    "runs.cannot_open": "Cannot open {name}: {error}",
    "runs.summary_line": "{status} · {steps} steps · final loss {loss} · {arch}, {layers} layers, "
                         "{position}/{norm}/residual {residual} · task {task} · source {source}",
    "runs.config": "Config",
    "runs.no_probes": "This run recorded no per-layer statistics (probes were off).",
    "runs.export": "**Export** · metrics as CSV or Parquet, config and summary as JSON, the whole run folder as a zip",
    "runs.dl.csv": "CSV",
    "runs.dl.csv_help": "metrics.csv (step,name,value)",
    "runs.dl.parquet": "Parquet",
    "runs.dl.parquet_help": "the metrics as Parquet",
    "runs.dl.config": "Config",
    "runs.dl.config_help": "config.json",
    "runs.dl.summary": "Summary",
    "runs.dl.summary_help": "summary.json",
    "runs.dl.zip": "Zip",
    "runs.dl.zip_help": "the run folder: config, metrics, summary, weights, meta",
    "runs.delete_failed": "Could not delete {name}: {error}",
    "runs.deleted": "Deleted run {name}.",
    "runs.delete_panel": "Delete this run",
    "runs.delete_confirm": "Yes, delete {name} from the runs folder (for everyone; cannot be undone)",
    "runs.delete": "Delete run",
    "runs.metric": "metric",
    "runs.col.name": "name",
    "runs.col.arch": "arch",
    "runs.col.label": "label",
    "runs.col.task": "task",
    "runs.col.source": "source",
    "runs.col.run": "run",
    "runs.col.status": "status",
    "runs.col.norm position": "norm position",
    "runs.col.norm": "norm",
    "runs.col.residual": "residual",

    # ---- words inside charts (figures come from resnorm.studies.figures in English; ui.i18n.localize translates
    # their titles, axis titles, subplot titles and trace names; a key with {placeholders} is a template) --
    "fig.step": "step",
    "fig.layer": "layer",
    "fig.loss": "loss",
    "fig.accuracy": "accuracy",
    "fig.learning rate": "learning rate",
    "fig.global norm": "global norm",
    "fig.mean": "mean",
    "fig.entropy (nats)": "entropy (nats)",
    "fig.update ratio ‖Δθ‖/‖θ‖": "update ratio ‖Δθ‖/‖θ‖",
    "fig.global ‖∇‖ (before clipping)": "global ‖∇‖ (before clipping)",
    "fig.Loss and accuracy (train, validation), learning rate": "Loss and accuracy (train, validation), learning rate",
    "fig.Gradient norm per layer": "Gradient norm per layer",
    "fig.Stream change per sublayer and update ratio per layer": "Stream change per sublayer and update ratio per layer",
    "fig.Last block's gradient norm against total depth (Xiong et al. 2020, Theorem 1)":
        "Last block's gradient norm against total depth (Xiong et al. 2020, Theorem 1)",
    "fig.flat (Theorem 1, Post-LN)": "flat (Theorem 1, Post-LN)",
    "fig.∝ L^-½ (Theorem 1, Pre-LN)": "∝ L^-½ (Theorem 1, Pre-LN)",
    "fig.‖∇θ‖ of the last block": "‖∇θ‖ of the last block",
    "fig.t.stream_change": "stream change ‖x_out − x_in‖/‖x_in‖, {sub}",
    "fig.t.raw_branch": "raw branch ‖F‖/‖x‖ (before gate, scale, N_out), {sub}",
    "fig.‖x_out − x_in‖/‖x_in‖": "‖x_out − x_in‖/‖x_in‖",
    "fig.Attention": "Attention",
    "fig.Depth profile": "Depth profile",
    "fig.Rank residual per layer (→ 0: tokens collapse to one vector)":
        "Rank residual per layer (→ 0: tokens collapse to one vector)",
    "fig.layer (block index, 0 = nearest the input)": "layer (block index, 0 = nearest the input)",
    "fig.gradient norm of the last (solid) and first (dotted) block":
        "gradient norm of the last (solid) and first (dotted) block",
    "fig.residual mean square after the last block": "residual mean square after the last block",
    "fig.depth L (blocks)": "depth L (blocks)",
    "fig.Gradient norm and residual mean square against depth": "Gradient norm and residual mean square against depth",
    "fig.Δ loss": "Δ loss",
    "fig.mean square E[x²]": "mean square E[x²]",
    "fig.‖∇θ‖ of the block": "‖∇θ‖ of the block",
    "fig.‖∇θ‖ attention": "‖∇θ‖ attention",
    "fig.‖∇θ‖ cross-attention": "‖∇θ‖ cross-attention",
    "fig.‖∇θ‖ MLP": "‖∇θ‖ MLP",
    "fig.‖∇θ‖ first block": "‖∇θ‖ first block",
    "fig.‖∇θ‖ last block": "‖∇θ‖ last block",
    "fig.‖∇θ‖ last / first": "‖∇θ‖ last / first",
    "fig.mean square E[x²], last block": "mean square E[x²], last block",
    "fig.t.no_metric": "no {metric} in these configs",
    "fig.no depth sweep yet": "no depth sweep yet",
    "fig.t.resid_heatmap": "Residual stream {stat} per layer over training",
    "fig.t.grad_sub": "{sub} weights ‖∇‖ per layer",
    "fig.t.clip": "clip = {clip}",
    "fig.t.head": "head {h}",
    "fig.t.attention_of": "Attention of {layer} at step {step} (probe example)",
    "fig.t.entropy_of": "Attention entropy per head, {layer}",
    "fig.t.label_step": "{label} step {step}",
    "fig.t.step": "step {step}",
    "fig.t.diff": "Difference view ({b} − {a})",
    "fig.t.diff_loss": "train loss, {b} − {a}",
    "fig.t.diff_grad": "gradient norm per layer, {b} − {a} (latest)",
    "fig.t.first_block": "{label} · first block",
    "fig.t.seed_band": "{label} · seed band",
})

# ---- lessons (resnorm/studies/lessons.py, app_pages/lessons.py, ui/lessons_view.py) ------------------------------
TEXT.update({
    "lessons.title": "Lessons",
    "lessons.caption": "Six experiments that reproduce published results live, in a predict-then-observe "
                       "format: read the question, make your prediction, run, and see whether the effect "
                       "appeared — with the numbers.",
    "lessons.open": "Open lesson {n}",
    "lessons.paper": "Paper: {citation}",
    "lessons.all": "All lessons",
    "lessons.question": "Question",
    "lessons.predict": "Your prediction",
    "lessons.predict_label": "Predict before you run:",
    "lessons.experiment": "The experiment",
    "lessons.look": "What to look at",
    "lessons.why": "Why",
    "lessons.why_after": "Why? (read after the run)",
    "lessons.note": "How reliable is this at this size?",
    "lessons.run": "Run the experiment",
    "lessons.run_help.train": "Trains the configs below together (same data, same seed) and checks the expected "
                              "effect.",
    "lessons.run_help.init": "One forward and backward pass of fresh models per seed, then the check.",
    "lessons.run_init": "Compute at initialisation",
    "lessons.stop": "Stop",
    "lessons.reset": "Clear",
    "lessons.busy": "A lesson run is in progress.",
    "lessons.start_hint": "Press **Run the experiment**. The charts fill in as it trains; when it ends, the "
                          "lesson checks the expected effect against the numbers.",
    "lessons.computing": "Computing at initialisation…",
    "lessons.progress": "**{status}** · step {step}/{total} · {elapsed:.1f} s",
    "lessons.verdict": "Verdict",
    "lessons.verdict_ok": "The expected effect appeared.",
    "lessons.verdict_fail": "The expected effect did not (fully) appear in this run.",
    "lessons.no_verdict": "The run was stopped before the end: no verdict. Run it again to the end.",
    "lessons.claim_ok": ":material/check_circle: {text}",
    "lessons.claim_fail": ":material/cancel: {text}",
    "lessons.you_predicted": "You predicted **({yours})**; the papers predict **({answer})**.",
    "lessons.no_prediction": "You made no prediction — next time, commit to one before running.",
    "lessons.fail_hint": "Small models and single seeds can surprise. Look at which claim failed and its numbers; "
                         "try the lesson's own settings (Reset in the sidebar) or another seed.",
    "lessons.configs.train": "Configs (trained in lockstep: same initial seed, same batches):",
    "lessons.configs.init": "Configs (fresh models, the same seeds and batches for each):",
    "lessons.shared": "Shared: {shared}",
    "lessons.col.config": "config",
    "lessons.col.block": "block",
    "lessons.block.seed_article": "the seed article's (lesson only)",
    "lessons.block.standard": "standard",
    "lessons.controls": "Lesson settings",
    "lessons.controls_help": "What this lesson lets you change; the rest is fixed so the room runs the same "
                             "experiment.",
    "lessons.defaults": "Back to the lesson's settings",
    "lessons.set_by_lesson": "Set by each config of the lesson: {fields}.",
    "lessons.unlock": "Teacher: unlock all controls",
    "lessons.unlock_help": "Shows every setting of the model, block, task and training for this lesson "
                           "(a lesson link opens locked: learners see only the lesson's own settings).",
    "lessons.quick": "Quick run (reduced size, as in the tests)",
    "lessons.quick_help": "Fewer steps and seeds: the same effect, checked with the same margins, in a few seconds.",
    "lessons.link": "Link to this lesson for the room (opens locked, in the current language):",
    "lessons.open_in": "Open these configs on the {page} page",
    "lessons.open_in_help": "Loads the lesson's configs there, with every control available.",
    "lessons.settings_problem": "Fix the lesson settings first: {problems}",
    "lessons.unknown": "There is no lesson {value}; choose one below.",
    "lessons.chart.loss": "Training loss",
    "lessons.chart.grad": "Global gradient norm (before clipping)",
    "lessons.chart.rank": "Rank residual per layer (first step in grey)",
    "lessons.chart.resid": "Residual-stream RMS per layer (first step in grey)",
    "lessons.chart.grad_layers": "Gradient norm per layer (first step in grey)",
    "lessons.chart.init_grad": "Gradient norm per block at initialisation",
    "lessons.chart.init_resid": "Residual-stream mean square after each block, at initialisation",
    "lessons.seed_code": "The seed article's encoder layer, as written:",
    "lessons.scale_reduced": "quick run (reduced size)",

    # ---- lesson 1 ----
    "lesson.1.title": "1 · Why residual connections?",
    "lesson.1.summary": "A 12-block encoder with and without skip connections: the tokens collapse to one vector "
                        "and training stalls.",
    "lesson.1.question": "A 12-block Transformer encoder learns to reverse a string of 8 symbols. What happens if "
                         "every sublayer loses its skip connection — x ← F(x) instead of x ← x + F(x)?",
    "lesson.1.option.a": "Not much: attention and MLP learn the same function, a little more slowly.",
    "lesson.1.option.b": "The tokens' representations collapse towards one vector and training stalls near chance.",
    "lesson.1.option.c": "Training diverges: the loss becomes NaN within a few steps.",
    "lesson.1.run": "Two Pre-LN encoders with 12 blocks (Xavier init, Adam, learning rate 10⁻³), same initial "
                    "weights and batches, trained in lockstep: **A** with skip connections, **B** without.",
    "lesson.1.look": "**Rank residual per layer** — ‖X − 1x̄ᵀ‖/‖X‖, 0 when every token carries the same vector. At "
                     "step 1 the model without skips is at ~10⁻⁷ after its last blocks (float32 round-off: complete "
                     "collapse), the one with skips near 0.5. Then the **training loss**: with skips it falls; "
                     "without, it stays near ln 10 ≈ 2.30 (2.18–2.32 measured), the loss of guessing among the 10 symbols.",
    "lesson.1.why": "Self-attention replaces each token by a weighted average of the tokens. Averages of averages "
                    "become more and more alike: Dong, Cordonnier & Loukas (2021) prove that pure attention loses "
                    "rank doubly exponentially with depth — after a few layers every position holds the same "
                    "vector, so the output cannot depend on the position, and reversing a string becomes "
                    "impossible. The skip path x + F(x) carries each token's own vector past every average, so the "
                    "rank survives; MLPs slow the collapse but do not stop it. The same path carries the gradient "
                    "straight back to the early layers (He et al. 2016).",
    "lesson.1.note": "Measured on a CPU over 8 seeds at each size (quick run: 100 steps; full: 300 steps): the "
                     "collapse is complete in every run (rank residual below 10⁻⁶ without skips, 0.50–0.72 with), "
                     "and the no-skip loss stays within 0.13 of chance (2.18–2.32) while the skip model reaches "
                     "1.08–1.69 (quick) or 0.007–0.011 (full). It sits a little below chance because the collapsed "
                     "vector is still the mean of the sequence's own tokens: the model can learn which symbols occur, "
                     "only not where. The check asks for a finite no-skip loss within ±0.2 of chance: a loss far above "
                     "chance, or a diverged run, is not a stall.",
    "lesson.1.variant.skip": "with skips, x + F(x)",
    "lesson.1.variant.noskip": "without skips, F(x)",
    "lesson.1.claim.collapse": "Rank collapse at initialisation: last block's rank residual {rr_off:.1e} without "
                               "skips (expected ≤ {collapse:g}), {rr_on:.2f} with skips (expected ≥ {healthy:g}).",
    "lesson.1.claim.stall": "Training stalls: final loss {loss_off:.3f} without skips (chance {chance:.3f}; expected "
                            "finite and within ±{stall:g} of it — far above chance or diverged is not a stall) against {loss_on:.3f} with skips (expected at least {gap:g} "
                            "lower).",
    "lesson.1.ok": "Without skip connections the tokens collapse to one vector at initialisation and the model "
                   "cannot learn the task; with them it learns.",
    "lesson.1.fail": "Part of the expected effect is missing in this run: see the claim marked ✗ and its numbers.",

    # ---- lesson 2 ----
    "lesson.2.title": "2 · Post-LN vs Pre-LN at initialisation",
    "lesson.2.summary": "Before any training step: where the gradients are large, and how the residual stream "
                        "grows, for Post-LN and Pre-LN.",
    "lesson.2.question": "Before any training, in a 12-block decoder: how does the gradient of each block's "
                         "parameters change from the input to the output, for Post-LN, x ← LN(x + F(x)), and for "
                         "Pre-LN, x ← x + F(LN(x))? And what happens to the size of the residual stream?",
    "lesson.2.option.a": "Pre-LN's gradients shrink towards the output while Post-LN's do not; Pre-LN's stream "
                         "grows with depth, Post-LN's stays at 1.",
    "lesson.2.option.b": "Both have the same gradient profile and the same stream; only training differs.",
    "lesson.2.option.c": "Post-LN's gradients shrink towards the output; Post-LN's stream grows with depth.",
    "lesson.2.run": "No training: one forward and one backward pass of freshly initialised models (Xavier, the "
                    "setting of the paper), Post-LN and Pre-LN, over several seeds. Recorded: the gradient norm of "
                    "each block's parameters and the mean square of the stream after each block.",
    "lesson.2.look": "**Gradient norm per block**, on a log scale: Pre-LN's falls steadily towards the output (its "
                     "last block gets the smallest gradient); Post-LN's stays about level. **Mean square of the "
                     "stream**: Pre-LN's grows about linearly with the layer index; Post-LN's is exactly 1 after "
                     "every block.",
    "lesson.2.why": "Xiong et al. (2020), Theorem 1: at initialisation the gradient of the last layer's weights is "
                    "O(d·√ln d) for Post-LN whatever the total depth L, but O(d·√(ln d / L)) for Pre-LN — the deeper "
                    "the Pre-LN model, the smaller its last layer's gradient, because its final norm divides by "
                    "‖x_L‖, and in Pre-LN every block adds a branch of roughly constant size to a stream that is "
                    "never re-normalised, so E‖x_ℓ‖² grows like ℓ (Lemma 2). That is a statement about the total "
                    "depth; “Theorem 1” below draws it for L = 2…48. Their Fig. 3 shows the profile along the layers "
                    "of one model: Post-LN's gradient grows towards the output, Pre-LN's stays level. With Adam's "
                    "normalised steps, Post-LN's large gradients near the output let a large learning rate move "
                    "those parameters too far — which is why it needs a warm-up (lesson 3). What this small model "
                    "shows along its layers is in the note: the difference from Pre-LN, not a clear rise.",
    "lesson.2.note": "Measured over 32 seeds (d_model 32, 12 blocks): the slope of ln‖∇‖ per layer is −0.066 ± 0.021 "
                     "(seed-to-seed spread) for Pre-LN and +0.010 ± 0.048 for Post-LN. So at this size Post-LN's "
                     "profile is about level — not rising as in the paper's Fig. 3 (it rises with ReLU on stdlib-lm, "
                     "T = 32: last/first 1.41–2.14 at 6–24 blocks, see the At-initialisation page); what is robust is "
                     "the difference from Pre-LN. The check therefore averages over 8 seeds (quick run: 5) and asks "
                     "for a difference of at least 0.03 — in 4 disjoint sets of 8 seeds it was 0.040–0.100, in 6 of 5 "
                     "seeds 0.047–0.113 — and the mean square grew ×4.4–4.8 over 12 Pre-LN blocks (×4.1–5.0 in the "
                     "sets of 5). Theorem 1 at these settings (8 seeds, L = 2…48): Post-LN's last-block gradient "
                     "median 1.29 → 2.57, a log-log slope of +0.21 (the theorem: flat, an upper bound independent of "
                     "L); Pre-LN's 0.79 → 0.40, slope −0.24 (the theorem: at most ∝ L^-½).",
    "lesson.2.variant.post": "Post-LN",
    "lesson.2.variant.pre": "Pre-LN",
    "lesson.2.claim.gradients": "Gradient profile over {seeds:.0f} seeds: slope of ln‖∇‖ per layer {slope_pre:+.3f} "
                                "for Pre-LN (expected ≤ −{pre_slope:g}) and {slope_post:+.3f} for Post-LN (expected "
                                "at least {slope_gap:g} higher).",
    "lesson.2.claim.growth": "Residual growth over {layers:.0f} blocks: Pre-LN's mean square grows ×{growth_pre:.2f} "
                             "from the first block to the last (expected ≥ ×{growth:g}). Post-LN's ×{growth_post:.3f} is a "
                             "definition, not a finding: every Post-LN block ends with a LayerNorm (γ = 1, β = 0 at "
                             "initialisation), so its mean square is 1 by construction.",
    "lesson.2.ok": "Pre-LN's gradients shrink towards the output and its stream grows with depth; Post-LN's stream "
                   "stays normalised and its gradients do not shrink like Pre-LN's.",
    "lesson.2.fail": "Part of the expected effect is missing at these settings: see the claim marked ✗ and its "
                     "numbers.",

    # ---- lesson 3 ----
    "lesson.3.title": "3 · Warm-up rescues Post-LN",
    "lesson.3.summary": "A high learning rate with and without warm-up: Post-LN needs it, Pre-LN does not.",
    "lesson.3.question": "Four 6-block decoders learn to reverse strings at a high learning rate (10⁻², Adam). Two "
                         "of them ramp the learning rate up linearly over the first 150 steps (warm-up). "
                         "Which of them learn the task?",
    "lesson.3.option.a": "All four: warm-up only makes the start a little smoother.",
    "lesson.3.option.b": "Post-LN without warm-up fails; with warm-up it trains; Pre-LN trains either way.",
    "lesson.3.option.c": "Pre-LN needs the warm-up; Post-LN does not.",
    "lesson.3.run": "Four decoders trained in lockstep on the same batches from the same seed: **A** Post-LN without "
                    "warm-up, **B** Post-LN with warm-up, **C** Pre-LN without, **D** Pre-LN with. Learning rate "
                    "10⁻², constant after the warm-up; gradients clipped at norm 1.",
    "lesson.3.look": "The **training loss**: Post-LN without warm-up drops to ln 10 ≈ 2.30 and stays there — it "
                     "only learns how often each symbol appears — while the other three go towards 0. The **global "
                     "gradient norm** (before clipping at 1): Post-LN starts with gradients about 3× Pre-LN's (~7 "
                     "against ~2.4 here); without warm-up a few full-size steps bring them down to ~0.5, where they "
                     "stay while the loss sits at chance: the model has settled in a flat region. With warm-up it "
                     "keeps learning.",
    "lesson.3.why": "At initialisation Post-LN's gradients near the output are large (Xiong et al. 2020; in this "
                    "small model larger than Pre-LN's rather than rising along the layers, lesson 2). Adam normalises "
                    "each step, so at 10⁻² every weight moves by about 10⁻² at once — too far for the last layers: "
                    "the model falls into a flat region where it predicts only symbol frequencies, and the "
                    "gradient vanishes. A warm-up keeps the first steps small until the model has left the "
                    "dangerous region (Xiong et al. 2020, §3; Liu et al. 2020 add that Adam's variance estimate is "
                    "itself unreliable in the first steps). Pre-LN's gradients are well-scaled from the start, so "
                    "it needs no warm-up — one reason GPT-2 and most later models put the norm first.",
    "lesson.3.note": "Measured over 4 seeds (quick run: 200 steps, warm-up 150) and 3 seeds (full: 300 steps, "
                     "warm-up 150): Post-LN without warm-up ended at 2.31–2.32 every time (chance 2.30; the Compare "
                     "page marks it “stalled at the unigram loss”), with warm-up at 0.011–0.18; Pre-LN below 0.04 "
                     "either way. At lower learning rates (10⁻³–5·10⁻³) "
                     "a 6-block Post-LN trains without warm-up too: the failure needs the high rate.",
    "lesson.3.variant.post": "Post-LN, no warm-up",
    "lesson.3.variant.post_warmup": "Post-LN, warm-up",
    "lesson.3.variant.pre": "Pre-LN, no warm-up",
    "lesson.3.variant.pre_warmup": "Pre-LN, warm-up",
    "lesson.3.claim.post_fails": "Post-LN without warm-up fails or lags: final loss {loss_post:.3f} (chance "
                                 "{chance:.3f}), expected at least {gap:g} above Post-LN with warm-up "
                                 "({loss_post_warmup:.3f}).",
    "lesson.3.claim.warmup_rescues": "With warm-up Post-LN trains: final loss {loss_post_warmup:.3f} (expected ≤ "
                                     "{trained:g}).",
    "lesson.3.claim.pre_either": "Pre-LN trains either way: final loss {loss_pre:.3f} without warm-up and "
                                 "{loss_pre_warmup:.3f} with it (expected ≤ {trained:g}).",
    "lesson.3.ok": "Post-LN fails at this learning rate without warm-up and trains with it; Pre-LN trains either way.",
    "lesson.3.fail": "Part of the expected effect is missing in this run: see the claim marked ✗ and its numbers.",

    # ---- lesson 4 ----
    "lesson.4.title": "4 · Norm types: LayerNorm, RMSNorm, DyT, none",
    "lesson.4.summary": "The same Pre-LN model with four normalisations: which details of the norm matter?",
    "lesson.4.question": "The same 6-block Pre-LN decoder, same task, same seed — only the normalisation differs: "
                         "LayerNorm, RMSNorm (no centring), DyT (tanh(αx): no statistics at all) or none. Which of "
                         "them train?",
    "lesson.4.option.a": "Only LayerNorm; the others are approximations that fail.",
    "lesson.4.option.b": "All four about equally: in Pre-LN the skip path does the work.",
    "lesson.4.option.c": "LayerNorm, RMSNorm and DyT all train; without a norm the stream blows up at "
                         "initialisation and training fails.",
    "lesson.4.run": "Four Pre-LN decoders with 6 blocks, trained in lockstep on the same batches with the same "
                    "initial weights (Xavier), learning rate 10⁻³: **A** LayerNorm, **B** RMSNorm, **C** DyT, "
                    "**D** no norm.",
    "lesson.4.look": "The **training loss** (log scale): LayerNorm and RMSNorm lie on top of each other, DyT starts "
                     "more slowly and catches up. The **residual-stream RMS per layer** at step 1: without a norm "
                     "the stream after the last block is 10–18× larger than with LayerNorm, the first loss is ~50 "
                     "instead of ~3, and the gradient norm runs into the thousands.",
    "lesson.4.why": "LayerNorm centres and rescales each token. Zhang & Sennrich (2019) found that the rescaling is "
                    "what matters: RMSNorm drops the centring, costs less and trains as well. Zhu et al. (2025) go "
                    "further: DyT replaces the statistics by an element-wise tanh(αx) with a learnable α, which "
                    "squashes large values as a norm would, and matches LayerNorm in large models. With no norm at "
                    "all, Pre-LN's branches read the raw stream: with Xavier weights and N(0, 1) embeddings every "
                    "block multiplies the stream's size, so after six blocks the logits are huge, the loss at "
                    "initialisation is ~20× chance and the gradients explode. The seed article calls "
                    "normalisation a way to converge faster; here it decides whether the model trains at all.",
    "lesson.4.note": "Measured over 3 seeds (full: 300 steps): LayerNorm 0.012–0.015, RMSNorm 0.012–0.015, DyT "
                     "0.020–0.031, no norm 3.1–4.8 (with gradient clipping at 1 it does not diverge; it stays "
                     "above chance); the stream after the last block started 10–13× LayerNorm's without a norm. DyT lags early: after 150 steps at 10⁻³ it was still at ~1.5 while LayerNorm was "
                     "at 0.2–0.4; the quick run therefore uses 3·10⁻³ for 150 steps, where all three trained in 4 "
                     "of 4 seeds (LayerNorm and RMSNorm 0.005–0.008, DyT 0.007–0.017; no norm 3.4–15, its stream 10–18× "
                     "LayerNorm's). The check asks LayerNorm and RMSNorm to end within 0.1 of each other *and* to "
                     "have trained (≤ 0.5): two runs stuck alike at chance are not a pass.",
    "lesson.4.variant.layernorm": "LayerNorm",
    "lesson.4.variant.rmsnorm": "RMSNorm",
    "lesson.4.variant.dyt": "DyT",
    "lesson.4.variant.none": "no norm",
    "lesson.4.claim.ln_rms": "LayerNorm and RMSNorm both train and end alike: final loss {loss_ln:.3f} and "
                             "{loss_rms:.3f} (expected each ≤ {trained:g} and within {same:g} of each other).",
    "lesson.4.claim.dyt": "DyT trains: final loss {loss_dyt:.3f} (expected ≤ {trained:g}).",
    "lesson.4.claim.none": "Without a norm the stream after block {layers:.0f} starts at RMS {rms_none:.1f}, "
                           "×{ratio:.1f} LayerNorm's {rms_ln:.2f} (expected ≥ ×{blowup:g}), and the final loss is "
                           "{loss_none:.3f} (expected at least {gap:g} above LayerNorm's).",
    "lesson.4.ok": "LayerNorm, RMSNorm and DyT all train; without any norm the stream blows up at initialisation "
                   "and the model does not learn.",
    "lesson.4.fail": "Part of the expected effect is missing in this run: see the claim marked ✗ and its numbers.",

    # ---- lesson 5 ----
    "lesson.5.title": "5 · Going deep: DeepNorm, ReZero, Pre-LN's growing stream",
    "lesson.5.summary": "24 blocks: plain Post-LN fails; DeepNorm and ReZero train; Pre-LN's stream grows with "
                        "depth and LN-Scaling tames it.",
    "lesson.5.question": "Now 24 blocks, learning rate 10⁻³, no warm-up. Plain Post-LN; DeepNorm, x ← LN(αx + F(x)) "
                         "with α = (2L)^¼ and smaller initial branch weights; ReZero, x ← x + a·F(x) with a "
                         "learnable a starting at 0 and no norm; and Pre-LN. Which train?",
    "lesson.5.option.a": "All four: 24 blocks is not deep.",
    "lesson.5.option.b": "Only Pre-LN.",
    "lesson.5.option.c": "Plain Post-LN fails; DeepNorm, ReZero and Pre-LN train.",
    "lesson.5.run": "Four 24-block decoders trained in lockstep: **A** Post-LN, **B** DeepNorm, **C** ReZero (no "
                    "norm), **D** Pre-LN. Then, at initialisation, the stream of 24-block Pre-LN and LN-Scaling "
                    "models, x ← x + F(LN(x)/√ℓ).",
    "lesson.5.look": "The **training loss**: Post-LN stays at chance, the other three learn (Pre-LN more slowly). "
                     "The **residual-stream RMS per layer**: Pre-LN's grows along the depth while Post-LN's and "
                     "DeepNorm's stay at 1. In the verdict, Pre-LN's growth at initialisation is compared with "
                     "LN-Scaling's.",
    "lesson.5.why": "DeepNet (Wang et al. 2022) keeps Post-LN's norm after the addition but up-weights the skip "
                    "path (α > 1) and scales down the branches' initial weights (β < 1), which bounds how much the "
                    "model changes in its first updates; it trained 1,000 layers. ReZero (Bachlechner et al. 2020) "
                    "starts every block as the identity (a = 0) and lets training decide how much of each branch "
                    "to add. Pre-LN trains too, but its stream grows with depth, so each later block changes it "
                    "relatively less: Sun et al. (2025) call this the curse of depth — many deep layers of large "
                    "language models can be removed with little loss — and scale each block's normalised input by "
                    "1/√ℓ (LN-Scaling), which keeps the growth small.",
    "lesson.5.note": "Measured over 3 seeds (full: 300 steps at 10⁻³) and 4 seeds (quick: 80 steps at 3·10⁻³): "
                     "Post-LN ended at 2.31–2.33 every time (chance 2.30); DeepNorm at 0.007–0.082 and ReZero at "
                     "0.0015–0.031. At initialisation (measured on the learner's seed and the next ones: 3 "
                     "initialisations per run, 2 in the quick run) Pre-LN's mean square grew ×8.7–9.9 over 24 blocks, "
                     "LN-Scaling's ×1.7–1.8. Pre-LN itself is slower at this depth (0.51–0.74 in the quick run, "
                     "0.009–0.011 after 300 steps). The full run took 70–110 s on a shared 2-core machine.",
    "lesson.5.variant.post": "Post-LN",
    "lesson.5.variant.deepnorm": "DeepNorm",
    "lesson.5.variant.rezero": "ReZero (no norm)",
    "lesson.5.variant.pre": "Pre-LN",
    "lesson.5.variant.lns": "LN-Scaling",
    "lesson.5.claim.post_fails": "Plain Post-LN fails or lags: final loss {loss_post:.3f}, expected at least {gap:g} "
                                 "above the better of DeepNorm ({loss_deepnorm:.3f}) and ReZero ({loss_rezero:.3f}).",
    "lesson.5.claim.deep_trains": "DeepNorm and ReZero train: final loss {loss_deepnorm:.3f} and {loss_rezero:.3f} "
                                  "(expected ≤ {trained:g}); Pre-LN {loss_pre:.3f}.",
    "lesson.5.claim.growth": "At initialisation over {layers:.0f} blocks Pre-LN's stream mean square grows "
                             "×{growth_pre:.1f} (expected ≥ ×{growth:g}); with LN-Scaling ×{growth_lns:.1f} "
                             "(expected at most {lns_fraction:g} of Pre-LN's).",
    "lesson.5.ok": "At this depth plain Post-LN does not train while DeepNorm and ReZero do; Pre-LN's stream grows "
                   "with depth and LN-Scaling's 1/√ℓ keeps it small.",
    "lesson.5.fail": "Part of the expected effect is missing in this run: see the claim marked ✗ and its numbers.",

    # ---- lesson 6 ----
    "lesson.6.title": "6 · Spot the bug",
    "lesson.6.summary": "The encoder layer of the article this project started from, as written, against the "
                        "correct Post-LN block: what the charts reveal.",
    "lesson.6.question": "The article this project started from gives the encoder layer below. Read its forward: is "
                         "it BERT's Post-LN block, x ← LN(x + Attn(x)) then x ← LN(x + FFN(x))? What will training "
                         "show?",
    "lesson.6.option.a": "It is fine: BERT's block, written differently.",
    "lesson.6.option.b": "It is broken: the feed-forward has no residual path and x + norm(x) adds a normalised copy "
                         "of x to itself — the stream is no longer normalised and the model trains worse.",
    "lesson.6.option.c": "It cannot run: the shapes do not match.",
    "lesson.6.run": "Two 6-block Post-LN encoders with the article's shapes (feed-forward width = d_model, ReLU), "
                    "the same initial weights and the same batches: **A** the correct block, **B** the article's "
                    "block as written.",
    "lesson.6.look": "The **residual-stream RMS per layer**: the correct block leaves exactly 1 after every block "
                     "(LayerNorm with γ = 1 at initialisation); the article's leaves about 1.6 — h + LN(h) is "
                     "neither normalised nor a residual. The **training loss**: the article's block lags far "
                     "behind. The **gradient norm per layer**: at step 1 the article's block has gradients 3–4× "
                     "larger in every layer (6–8 against 1.5–2 with these settings), so clipping at norm 1 shrinks "
                     "each of its steps more.",
    "lesson.6.why": "x = x + self.norm3(x) looks like a residual connection but is not one. The sublayer's input is "
                    "gone — the line before overwrote x with the feed-forward's output h — so the feed-forward has "
                    "no skip path, and what gets added is a normalised copy of h to h itself. The result is neither "
                    "Post-LN (the stream is not normalised: its RMS is about 1 + ‖h‖/√d) nor Pre-LN, and every block "
                    "forces both the signal and the gradient through its FFN. The correct Post-LN feed-forward "
                    "sublayer is x = norm2(x + ffn(x)) — which is what the article's unused norm2 was for.",
    "lesson.6.note": "What is reproduced, and what not: the article's encoder forward exactly (attention with its "
                     "residual and norm1, then the feed-forward as written, with the same parameter shapes); dropout "
                     "is 0 here (it is not the bug) and the unused norm2 is left out. The article's other bugs (its "
                     "decoder attends to the encoder output instead of to itself, with no causal mask; its "
                     "Transformer.forward uses undefined names) are not part of this run. Measured over 3 seeds "
                     "(full: 300 steps at 10⁻³): correct block 0.045–0.90, the article's 1.98–2.05; over 4 seeds "
                     "(quick: 200 steps at 3·10⁻³): 0.006–0.087 against 2.18–2.27; stream RMS after the article's "
                     "blocks 1.60–1.75 (the correct block's is 1.00 by construction: it ends in a LayerNorm).",
    "lesson.6.variant.correct": "correct Post-LN block",
    "lesson.6.variant.seed_article": "the article's block",
    "lesson.6.claim.stream": "The stream is no longer normalised: mean RMS after the blocks at initialisation "
                             "{rms_seed:.2f} with the article's block (expected ≥ {rms_bug:g}). The correct block's "
                             "{rms_correct:.3f} is a definition, not a finding: it is a LayerNorm output (γ = 1, β = 0 "
                             "at initialisation), 1 by construction.",
    "lesson.6.claim.training": "It trains worse: final loss {loss_seed:.3f} with the article's block against "
                               "{loss_correct:.3f} with the correct one (expected at least {gap:g} worse; chance "
                               "{chance:.3f}).",
    "lesson.6.ok": "The article's block leaves the stream unnormalised and trains far worse than the correct "
                   "Post-LN block with the same weights and data.",
    "lesson.6.fail": "Part of the expected effect is missing in this run: see the claim marked ✗ and its numbers.",
})
