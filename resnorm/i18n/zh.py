"""简体中文文本（Simplified Chinese）。键与 ``en.py`` 一一对应；占位符 ``{...}`` 必须与英文相同。

Config values (post, pre, layernorm, …), metric names and formulas stay as they are: they are what the
command line, the URL and the papers use."""
from __future__ import annotations

TEXT: dict[str, str] = {
    # ---- 配置字段：标签 -----------------------------------------------------------------------------
    "field.arch.label": "架构 arch",
    "field.layers.label": "层数 layers",
    "field.d_model.label": "d_model（宽度）",
    "field.heads.label": "注意力头数 heads",
    "field.d_ff.label": "d_ff（MLP 宽度）",
    "field.norm_position.label": "归一化位置",
    "field.norm.label": "归一化类型",
    "field.residual.label": "残差连接",
    "field.mlp.label": "MLP 子层",
    "field.init.label": "初始化 init",
    "field.activation.label": "激活函数",
    "field.dropout.label": "dropout",
    "field.dtype.label": "数据类型 dtype",
    "field.norm_eps.label": "归一化 eps",
    "field.task.label": "任务 task",
    "field.seq_len.label": "序列长度",
    "field.vocab_size.label": "字母表大小",
    "field.text_file.label": "文本文件",
    "field.mask_prob.label": "掩码比例（掩码语言模型）",
    "field.steps.label": "训练步数 steps",
    "field.batch_size.label": "批大小 batch size",
    "field.lr.label": "学习率",
    "field.warmup.label": "预热步数 warmup",
    "field.schedule.label": "学习率调度",
    "field.optimizer.label": "优化器",
    "field.weight_decay.label": "权重衰减",
    "field.grad_clip.label": "梯度裁剪（0 = 关闭）",
    "field.seed.label": "随机种子 seed",
    "field.device.label": "设备 device",
    "field.autocast.label": "自动混合精度 autocast",
    "field.probe_every.label": "每 N 步探测一次（0 = 关闭）",
    "field.attention_every.label": "每 N 步记录注意力图",
    "field.eval_every.label": "每 N 步验证一次",
    "field.max_points.label": "每个指标保留的点数",

    # ---- 配置字段：帮助 -----------------------------------------------------------------------------
    "field.arch.help": "decoder = 因果语言模型（GPT）；encoder = 双向编码器（BERT）；"
                       "encoder-decoder = 2017 年带交叉注意力的 Transformer",
    "field.layers.help": "块（block）的数量（encoder-decoder 为每个堆栈的层数）",
    "field.d_model.help": "残差流的宽度",
    "field.heads.help": "注意力头数；必须整除 d_model",
    "field.d_ff.help": "MLP 的隐藏层宽度（通常为 4 × d_model）",
    "field.norm_position.help": "归一化放在每个子层的什么位置（见变体表）",
    "field.norm.help": "归一化 N 是哪一种",
    "field.residual.help": "跳跃路径 r(x)：on（开）、off（关）、rezero（x + a*F，初始 a=0）、"
                           "scaled（分支乘以 1/sqrt(2L)）",
    "field.mlp.help": "包含前馈（feed-forward）子层（关闭 = 只有注意力的模型）",
    "field.init.help": "权重初始化方式",
    "field.activation.help": "MLP 的非线性激活函数",
    "field.dropout.help": "对每个分支输出和注意力权重做 dropout",
    "field.dtype.help": "权重和激活值的浮点类型",
    "field.norm_eps.help": "归一化平方根内的 epsilon",
    "field.task.help": "复制 / 反转 / 排序一个随机符号串，两数相加，或字符级语言建模"
                       "（stdlib-lm：Python 自带的标准库源码；text-lm：你的文本文件）。验证集是单独留出的：文本取最后十分之一；"
                       "符号任务按输入的哈希取出十分之一的可能输入，训练中从不使用——除非任务的不同输入少到一个也留不出"
                       "（例如 copy 只有 2 个符号 × 1 位），这时运行摘要会说明",
    "field.seq_len.help": "每个输入的符号数（add 任务为每个加数的位数；文本任务为上下文长度）",
    "field.vocab_size.help": "符号任务（copy、reverse、sort）的字母表大小",
    "field.text_file.help": "text-lm 使用的 UTF-8 文本文件",
    "field.mask_prob.help": "编码器掩码语言模型中被遮盖的字符比例",
    "field.steps.help": "优化器步数",
    "field.batch_size.help": "每步的序列数",
    "field.lr.help": "峰值学习率",
    "field.warmup.help": "线性预热的步数（noam：峰值所在的步）",
    "field.schedule.help": "预热之后的学习率调度：constant（恒定）、linear（线性衰减到 0）、"
                           "cosine（余弦衰减到 0）或 noam（Vaswani 等人公式 3，峰值 = lr）",
    "field.optimizer.help": "优化器",
    "field.weight_decay.help": "解耦的权重衰减（AdamW）或 L2 惩罚（Adam、SGD）",
    "field.grad_clip.help": "把全局梯度范数裁剪到这个值（0 = 关闭）",
    "field.seed.help": "运行的随机种子：权重、训练批次、验证批次和 dropout 各自使用由它派生出的独立随机流"
                       "（resnorm.science.seeds）",
    "field.device.help": "auto：有 CUDA 时用 CUDA，否则用 CPU",
    "field.autocast.help": "混合精度：bf16 在 torch.autocast 下运行前向传播和损失（矩阵乘法用 bfloat16，"
                           "权重和优化器保持 float32；需要 dtype 为 float32）；off 全部按 dtype 计算",
    "field.probe_every.help": "每 N 步记录一次逐层统计量（0 = 关闭探测）",
    "field.attention_every.help": "每 N 步记录一次探测样例的注意力图（0 = 关闭）",
    "field.eval_every.help": "每 N 步计算一次验证损失（0 = 关闭）",
    "field.max_points.help": "每个指标保留的点数；较早的点会被抽稀",
    "residual.on.help": "r(x) = x",
    "residual.off.help": "没有跳跃路径：更新只有分支本身",
    "residual.rezero.help": "x + a*F(x)，每个子层一个可学习的 a，初始 a = 0（Bachlechner 等人 2020）",
    "residual.scaled.help": "x + F(x)/sqrt(2L)",

    # ---- 框架 ---------------------------------------------------------------------------------------
    "app.name": "resnorm",
    "app.caption": "resnorm {version} · 残差连接与归一化，实时可见",
    "app.language": "语言",
    "app.language_help": "所有标签、帮助文字和课程都有英文和简体中文；链接里加上 lang=zh 即以中文打开。",
    "page.live": "实时训练",
    "page.compare": "对比",
    "page.init": "初始化时",
    "page.runs": "运行记录",
    "page.lessons": "课程",

    "status.idle": "空闲",
    "status.running": "运行中",
    "status.paused": "已暂停",
    "status.completed": "已完成",
    "status.stopped": "已停止",
    "status.diverged": "已发散",
    "status.failed": "失败",
    "event.diverged": "发散",
    "event.grad jump": "梯度突增",
    "event.entropy collapse": "熵崩塌",
    "event.stalled": "停滞在一元（unigram）损失",
    "caution.dyt_after_add": ":material/info: 把 DyT 放在加法之后（Post-LN 或 DeepNorm 位置）不是论文的设置：Zhu 等人 "
                             "2025 把 DyT 放在 Pre-LN 的归一化所在的位置。这里每个块都以 γ·tanh(a·x)（a = 0.5）结束，"
                             "它会让残差流缩小：初始化时测得（decoder，d_model 32，Xavier，3 个种子）Post-LN 的均方值"
                             "从第一个块之后的 0.09 降到 6 个块之后的 4·10⁻⁶–7·10⁻⁶、24 个块之后的 2·10⁻²¹–10⁻²⁰"
                             "——残差流消失了；DeepNorm 的 α·x 使它保持在 0.03（6 个块）和 0.58（24 个块）。"
                             "仍然允许这样设置，因为它很有启发性。",
    "live.not_held_out": "验证集没有单独留出：这个任务只有 {n} 个不同的样例，少到无法留出任何一个，所以验证损失是在"
                         "模型也用来训练的样例上测得的。",

    "msg.run_in_progress": "已有一个训练在进行：请先停止它。",
    "msg.compare_in_progress": "已有一个对比在运行：请先停止它。",

    # ---- 侧边栏控件 ---------------------------------------------------------------------------------
    "group.model": "模型",
    "group.block": "块：归一化与残差",
    "group.task": "任务",
    "group.training": "训练",
    "group.hardware": "硬件",
    "group.probes": "探测",
    "controls.fits": "适用：{fits}",
    "controls.text_file": "文本文件（UTF-8）",
    "controls.text_file_help": "最多 {limit}；按字符逐个训练。",
    "controls.paste": "……或粘贴文本",
    "controls.need_text": "text-lm 需要文本：请上传不超过 {limit} 的文件或粘贴一些文本",
    "controls.uploaded_file": "上传的文件",
    "controls.pasted_text": "粘贴的文本",
    "fits.x ⟂ x": "x ⟂ x",
    "fits.x ⟂ reversed(x)": "x ⟂ 反转(x)",
    "fits.x ⟂ sorted(x)": "x ⟂ 排序(x)",
    "fits.per position": "逐位置",
    "fits.seq2seq": "序列到序列",
    "fits.a+b = sum (digits least-significant first)": "a+b = 和（低位在前）",
    "fits.causal LM": "因果语言模型",
    "fits.masked LM": "掩码语言模型",

    # ---- 实时训练 -----------------------------------------------------------------------------------
    "live.title": "实时训练",
    "live.caption": "打开或关掉残差路径、移动归一化的位置，按下“训练”，看看模型内部发生了什么变化。",
    "live.block_heading": "**每个子层 F（注意力、MLP）这样更新残差流 x：**",
    "live.position_note": "位置 **{pos}** —— {source}。",
    "live.residual_note": "残差 **{res}** —— {help}。",
    "live.final_norm_note": "输出头之前还有一个最终归一化。",
    "live.fix_first": "请先修正设置：{problems}",
    "live.in_progress": "训练正在进行。",
    "init.url_ignored": "{name}（不是本页的设置）",
    "init.url_out_of_range": "{name}={value}（本页要求在 {lo} 到 {hi} 之间）",
    "init.url_task": "task={value}（本页只提供无需上传文本的任务）",
    "app.bad_settings": "服务器设置有误；请修改后重启服务器（`streamlit run app.py`）：\n{problems}",
    "job.preempted": "暂停超过 {seconds} 秒且有其他人在等待训练名额，已自动停止；已记录的内容会保留。"
                     "再次训练即可重新排队。",
    "live.queued": "排队中：第 {position} 位——训练名额已用 {running}/{capacity}。"
                   "有名额空出时会自动开始；点击停止可退出队列。",
    "compare.queued": "排队中：第 {position} 位——训练名额已用 {running}/{capacity}。"
                      "有名额空出时对比会自动开始；点击全部停止可退出队列。",
    "lessons.queued": "排队中：第 {position} 位——训练名额已用 {running}/{capacity}。"
                      "有名额空出时实验会自动开始；点击停止可退出队列。",
    "live.train": "训练",
    "live.train_help": "训练这个配置",
    "live.pause": "暂停",
    "live.resume": "继续",
    "live.stop": "停止",
    "live.reset": "重置",
    "live.reset_help": "停止并清空这次训练的图表",
    "live.start_hint": "在侧边栏选择一种块设计，然后按 **训练**。",
    "live.progress": "{icon} **{status}** · 第 {step}/{total} 步 · {rate:.1f} 步/秒 · {elapsed:.1f} 秒",
    "live.diverged": "在第 {step} 步发散：{reason}。该步之前的指标都已保留。",
    "live.failed": "训练失败：{reason}",
    "live.saved": "已保存到 `{path}` —— 见“运行记录”页。",
    "live.not_saved": "未保存：{error}。指标仍可在“导出”中下载。",
    "live.view": "视图",
    "view.Loss": "损失",
    "view.Residual stream": "残差流",
    "view.Gradients": "梯度",
    "view.Ratios": "比值",
    "view.Attention": "注意力",
    "view.Rank": "秩",
    "live.log_scale": "对数坐标",
    "live.resid_by_layer": "各层残差流 RMS",
    "live.rms": "RMS",
    "live.no_attention": "注意力图在第一次记录时出现（在“探测”中设置）。",
    "live.layer": "层",
    "live.head": "头",
    "live.all_heads": "全部",
    "live.export": "导出",
    "live.export_html": "图表导出为独立 HTML（可离线打开）",
    "live.export_png": "PNG：使用每个图表工具栏中的相机图标。",
    "export.loss": "损失",
    "export.residual": "残差流",
    "export.depth": "深度剖面",
    "export.gradients": "梯度",
    "export.ratios": "比值",
    "export.rank": "秩",

    # ---- 链接与代码 ---------------------------------------------------------------------------------
    "share.not_from_links.text_file": "服务器路径不能通过链接设置；请上传或粘贴文本",
    "share.ignored": "链接中被忽略的设置：{items}",
    "share.no_settings": "{name}（本页不从链接读取设置）",
    "share.lang_unknown": "lang={value}（不是本应用支持的语言；可选：{langs}）",
    "share.panel": "分享：链接与代码",
    "share.link": "指向这个设置的链接（用右侧图标复制）：",
    "share.cli": "同样的训练，用命令行：",
    "share.python": "……以及用 Python：",

    # ---- 对比 -------------------------------------------------------------------------------------
    "compare.title": "对比",
    "compare.caption": "侧边栏设置各配置共有的部分；下面的各列设置彼此不同的部分。它们一起训练："
                       "相同的种子、相同的批次、相同的步数时钟。",
    "compare.n_configs": "配置数",
    "compare.n_configs_help": "并排训练多少个变体",
    "compare.config": "**配置 {letter}**",
    "compare.fix_first": "请先修正设置：{problems}",
    "compare.running": "对比正在运行。",
    "compare.train_all": "全部训练",
    "compare.train_all_help": "同时开始训练所有配置",
    "compare.stop_all": "全部停止",
    "compare.start_hint": "在上方选择变体并按 **全部训练**：它们同步训练，数据相同，种子相同。",
    "compare.progress": "**{status}** · 第 {step}/{total} 步 · {elapsed:.1f} 秒",
    "compare.train_loss": "训练损失",
    "compare.grad_norm": "全局梯度范数",
    "compare.val_loss": "验证损失",
    "compare.diff_with": "与 A 的差异视图",
    "compare.grad_profiles": "各层梯度范数（第一步为灰色）",
    "compare.resid_profiles": "各层残差流 RMS",
    "compare.target": "目标损失（用于“达到所需步数”）",
    "compare.saved": "已保存到 {names} —— 见“运行记录”页。",
    "compare.not_saved": "未保存：{error}",
    "compare.verdict": "**结论**",
    "compare.so_far": "**目前为止**",
    "verdict.diverged": "{label}：在第 {step} 步发散",
    "verdict.final": "{label}：{steps} 步后最终损失 {loss}（{status}）",
    "verdict.reached": "在第 {step} 步达到损失 ≤ {target}",
    "verdict.never": "从未达到损失 ≤ {target}",
    "verdict.events": " —— 事件：{events}",
    "verdict.event": "第 {step} 步{kind}",
    "verdict.na": "无",

    # ---- 初始化时 -----------------------------------------------------------------------------------
    "init.title": "初始化时",
    "init.caption": "在第一步之前，块的设计就已经决定了信号及其梯度如何穿过深度传播。最多选择四种设计；"
                    "每个图表都把它们叠加显示，不同种子的离散范围显示为色带。",
    "init.depth_and_seeds": "深度与种子",
    "init.depth": "深度范围（块数）",
    "init.depth_help": "逐层图表使用最深的模型；深度图在此范围内扫描（最多 {points} 个深度）。",
    "init.seeds": "种子数",
    "init.seeds_help": "每个种子抽取新的权重和新的批次；色带显示它们的离散范围。",
    "init.band": "种子色带",
    "init.band.minmax": "最小 – 最大",
    "init.band.std": "均值 ± 标准差",
    "init.shared": "所有配置共有",
    "init.task": "任务",
    "init.preset": "从一个对比开始",
    "init.preset_help": "填入下面的配置；之后可以随意修改。",
    "init.n_configs": "配置数",
    "preset.Post-LN vs Pre-LN (Xiong et al. 2020)": "Post-LN 对比 Pre-LN（Xiong 等人 2020）",
    "preset.Pre-LN: LayerNorm vs RMSNorm vs DyT": "Pre-LN：LayerNorm 对比 RMSNorm 对比 DyT",
    "preset.Residual on vs off (Dong et al. 2021)": "残差开 对比 关（Dong 等人 2021）",
    "preset.Taming Pre-LN growth: Pre-LN, Sandwich, DeepNorm, LN-Scaling":
        "抑制 Pre-LN 的增长：Pre-LN、Sandwich、DeepNorm、LN-Scaling",
    "preset.Initialisation: xavier vs gpt2 vs torch (Pre-LN)": "初始化：xavier 对比 gpt2 对比 torch（Pre-LN）",
    "name.position.post": "Post-LN",
    "name.position.pre": "Pre-LN",
    "name.position.sandwich": "Sandwich-LN",
    "name.position.deepnorm": "DeepNorm",
    "name.position.lns": "LN-Scaling",
    "name.position.none": "无归一化",
    "name.norm.layernorm": "LayerNorm",
    "name.norm.rmsnorm": "RMSNorm",
    "name.norm.dyt": "DyT",
    "name.norm.batchnorm": "BatchNorm",
    "name.norm.none": "恒等",
    "init.label.residual": "残差 {value}",
    "init.label.init": "初始化 {value}",
    "init.shared_problems": "共有设置：{problems}",
    "init.cannot_build": "**{label}** 无法构建：{problems}",
    "init.failed": "**{label}** 在初始化时失败：{error}",
    "init.nothing": "没有可显示的内容：请修正上面的设置。",
    "init.computing": "计算中……",
    "init.waiting_slot": "正在等待训练名额（队列第 {position} 位；已用 {running}/{capacity}）：本页的计算与一次训练占用相同的名额。",
    "init.no_slot": "等待 {seconds} 秒后所有训练名额仍被占用，因此没有计算。请重新运行本页（按 R）再试。",
    "init.progress_profile": "初始化时：{label}，{blocks} 个块",
    "init.progress_sweep": "深度扫描：{label}，深度 {lo}–{hi}",
    "init.against_depth": "##### 随深度变化",
    "init.depths": "深度：{depths}。",
    "init.timing": ":material/timer: {configs} 个配置 × {seeds} 个种子：{blocks} 块剖面用时 {t_profile:.2f} 秒，"
                   "加上深度扫描共 {elapsed:.2f} 秒（{new} 次新的前向/反向传播；其余来自缓存）。",
    "init.along_depth": "##### 沿深度，{blocks} 个块",
    "init.chart.resid": "每个块之后残差流的均方值",
    "init.chart.grad": "每个块的梯度范数",
    "init.chart.ratio": "子层对残差流的改变量 ‖x_out − x_in‖/‖x_in‖，{branch}",
    "init.chart.rank": "每个块之后的秩残差",
    "init.branch": "分支",
    "branch.attention": "注意力",
    "branch.MLP": "MLP",
    "branch.cross-attention": "交叉注意力",
    "init.log_scale_help": "以直线显示双指数式的坍缩",
    "init.rank_dong": "Dong 的 ℓ1,∞",
    "init.rank_dong_help": "用 Dong 等人的复合范数 √(‖R‖₁‖R‖_∞) 代替 Frobenius 范数计算秩残差",
    "init.thm1.title": "定理 1（Xiong 等人 2020）：最后一个块的梯度与总深度的关系",
    "init.thm1.what": "定理 1 给出初始化时*最后*一层权重梯度的上界：Post-LN 为 O(d·√ln d)，与总深度 L 无关；Pre-LN 为 "
                      "O(d·√(ln d / L))，模型越深它按 L^-½ 缩小。它讲的不是同一个模型沿各层的剖面。这个面板按当前"
                      "设置在 L = 2、4、8、16、32、48 下分别构建 Post-LN 和 Pre-LN 模型，画出它们最后一个块的梯度范数，"
                      "并用虚线画出定理给出的形状（水平；∝ L^-½），穿过每条曲线的第一个点。这些界是上界：测得的斜率"
                      "落在两者之间是意料之中的。",
    "init.thm1.compute": "计算（{seeds} 个种子，L = 2…48）",
    "init.thm1.measured": "在 {seeds} 个种子、L = {depths} 上测得：最后一个块梯度中位数的双对数斜率，Post-LN 为 {post:+.2f}"
                          "（定理 1：水平，0），Pre-LN 为 {pre:+.2f}（定理 1：至多 −0.5）。在课程设置下（decoder，"
                          "d_model 32，reverse，8 个种子）为 +0.21 和 −0.24。",
    "init.look.resid_ms": "**看这里：** Pre-LN 把每个分支加到一个从不重新归一化的残差流上，所以均方值大约随层号"
                          "线性增长（Xiong 等人 2020，引理 2：E‖x_ℓ‖² 随 ℓ 增长）。Post-LN 和 DeepNorm 在每次相加后"
                          "都做归一化：残差流的均方值保持为 1（初始化时 LayerNorm 的 γ = 1、β = 0）。",
    "init.look.grad_norm": "**看这里：** 看形状，而不是高低。Xiong 等人 2020 的图 3（他们的翻译模型）：初始化时沿着同一个"
                           "模型的各层，Post-LN 的梯度朝输出方向增大——这正是它需要学习率预热的原因——而 Pre-LN 的大致"
                           "保持水平。他们的定理 1 讲的是*总*深度 L，而不是这条剖面：见下面的“定理 1”。这个小模型上的"
                           "结果（decoder，d_model 32，reverse 任务 10 个符号，T = 16，B = 16，GELU，Xavier；最后一个块 / "
                           "第一个块，20 个种子的中位数，6 / 12 / 24 个块）：Pre-LN 的梯度在每个种子上都沿层下降"
                           "（0.59 / 0.45 / 0.33）；Post-LN 的大致水平（0.95 / 1.38 / 1.28，只有 40 / 75 / 55 % 的种子"
                           "上升）。在 stdlib-lm 上用 ReLU（T = 32，B = 16）时它明显上升：1.84 / 1.41 / 2.14，上升的种子"
                           "占 95 / 75 / 95 %。",
    "init.look.ratio": "**看这里：** 一个子层对残差流改变了多少，即 ‖x_out − x_in‖/‖x_in‖，其中 x_in 是进入该子层的"
                       "残差流，x_out 是整个更新之后的残差流（包括 ReZero 的门控、1/√(2L) 缩放、Sandwich 的 N_out、"
                       "DeepNorm 的 αx 以及 Post-LN 的归一化：ReZero 在初始化时什么也不改变，为 0，对数坐标轴上不显示）。"
                       "原始分支输出之比 ‖F‖/‖x‖ 也有记录（``*_out.ratio``），但它不是这个改变量。在 Pre-LN 中残差流"
                       "不断增长而归一化后的分支不增长，所以越靠后的层贡献越小（“深度诅咒”，Sun 等人 2025，"
                       "LN-Scaling 的 1/√ℓ 正是为此）。Post-LN 的改变量在每个深度都保持在 1 的量级。初始化时的测量（decoder，12 个块，"
                       "d_model 32，Xavier，5 个种子），注意力子层，第一个块 → 最后一个块：Pre-LN 0.36–0.44 → "
                       "0.23–0.25，LN-Scaling → 0.09–0.10，Post-LN 0.57–0.63 → 0.68–0.82，DeepNorm 0.33–0.35 → "
                       "0.02–0.03，ReZero 恰好为 0（它的原始分支之比为 0.63–0.76）。",
    "init.look.rank_residual": "**看这里：** 秩坍缩。注意力会对词元做平均，所以没有跳跃连接时，词元的表示会随深度"
                               "以双指数速度坍缩到同一个向量（Dong 等人 2021）：秩残差趋向 0（试试关闭残差，并使用"
                               "对数坐标）。跳跃连接能维持它；Post-LN 在每个块都重新缩放跳跃路径，初始化时仍会"
                               "逐渐下降（Noci 等人 2022）。计算的是：对每个序列，‖X − 1x̄ᵀ‖_F / ‖X‖_F，其中 X 是"
                               "词元 × d_model 矩阵，x̄ 是各词元的均值，再对序列取平均。Dong 等人用的是复合范数 "
                               "‖R‖_{1,∞} = √(‖R‖₁‖R‖_∞)，并取使它最小的 x̄；打开“Dong 的 ℓ1,∞”即可看这个范数（用词元"
                               "均值时是他们最小值的上界）。两者都恰好在所有词元相同时为 0，且两种范数之间只差固定的"
                               "倍数，所以下降方式相同：测得（encoder，12 个块，d_model 32，3 个种子，中位数）没有跳跃"
                               "连接时第 1 个块之后为 0.52 / 0.51，第 3 个块之后为 0.0039 / 0.0042，从第 5 个块起两者"
                               "都约为 1.6·10⁻⁷；有跳跃连接时为 0.87 → 0.56 / 0.87 → 0.51。",
    "init.look.depth": "**看这里：** Xiong 等人 2020，定理 1 —— Post-LN 最后一个块的梯度是 O(d·√ln d)，与深度 L "
                       "无关；而 Pre-LN 的是 O(d·√(ln d / L))：模型越深它越小。并且 Pre-LN 最后一个块之后的残差流"
                       "大约随 L 线性增长，Post-LN 的保持为 1。encoder-decoder 配置显示解码器堆栈（靠近输出）。下面的"
                       "“定理 1”面板正是针对 L = 2…48 画出这幅图，并附上定理给出的形状。",

    # ---- 运行记录 -----------------------------------------------------------------------------------
    "runs.title": "已保存的运行",
    "runs.header": "运行文件夹：`{folder}`（设置 `RESNORM_RUNS_DIR` 可更改）· {count}。该文件夹由使用这台服务器的"
                   "所有人共享。",
    "runs.count_one": "{n} 个运行",
    "runs.count_many": "{n} 个运行",
    "runs.skipped_one": "运行文件夹中有 {n} 项被跳过或忽略：",
    "runs.skipped_many": "运行文件夹中有 {n} 项被跳过或忽略：",
    "runs.filter.norm_position": "归一化位置",
    "runs.filter.norm": "归一化类型",
    "runs.filter.residual": "残差",
    "runs.filter.status": "状态",
    "runs.any": "任意",
    "runs.none_match": "没有匹配的已保存运行。训练结束时（实时训练、对比）运行会保存在这里，"
                       "命令行 `python -m resnorm train --out runs/NAME` 也会写入一个运行。",
    "runs.col.date": "日期",
    "runs.col.final loss": "最终损失",
    "runs.col.layers": "层数",
    "runs.col.steps": "步数",
    "runs.open": "打开运行 —— 选一个查看图表，选多个叠加比较",
    "runs.choose": "选择运行",
    "runs.cannot_open": "无法打开 {name}：{error}",
    "runs.summary_line": "{status} · {steps} 步 · 最终损失 {loss} · {arch}，{layers} 层，"
                         "{position}/{norm}/残差 {residual} · 任务 {task} · 来源 {source}",
    "runs.config": "配置",
    "runs.no_probes": "这个运行没有记录逐层统计量（探测已关闭）。",
    "runs.export": "**导出** · 指标为 CSV 或 Parquet，配置和摘要为 JSON，整个运行文件夹为 zip",
    "runs.dl.csv": "CSV",
    "runs.dl.csv_help": "metrics.csv（step,name,value）",
    "runs.dl.parquet": "Parquet",
    "runs.dl.parquet_help": "Parquet 格式的指标",
    "runs.dl.config": "配置",
    "runs.dl.config_help": "config.json",
    "runs.dl.summary": "摘要",
    "runs.dl.summary_help": "summary.json",
    "runs.dl.zip": "Zip",
    "runs.dl.zip_help": "运行文件夹：配置、指标、摘要、权重、元数据",
    "runs.delete_failed": "无法删除 {name}：{error}",
    "runs.deleted": "已删除运行 {name}。",
    "runs.delete_panel": "删除这个运行",
    "runs.delete_confirm": "是的，从运行文件夹中删除 {name}（对所有人生效；无法撤销）",
    "runs.delete": "删除运行",
    "runs.metric": "指标",
    "runs.col.name": "名称",
    "runs.col.arch": "架构",
    "runs.col.label": "标签",
    "runs.col.task": "任务",
    "runs.col.source": "来源",
    "runs.col.run": "运行",
    "runs.col.status": "状态",
    "runs.col.norm position": "归一化位置",
    "runs.col.norm": "归一化",
    "runs.col.residual": "残差",

    # ---- 图表中的文字 -------------------------------------------------------------------------------
    "fig.step": "步",
    "fig.layer": "层",
    "fig.loss": "损失",
    "fig.accuracy": "准确率",
    "fig.learning rate": "学习率",
    "fig.global norm": "全局范数",
    "fig.mean": "均值",
    "fig.entropy (nats)": "熵（奈特）",
    "fig.update ratio ‖Δθ‖/‖θ‖": "更新比 ‖Δθ‖/‖θ‖",
    "fig.global ‖∇‖ (before clipping)": "全局 ‖∇‖（裁剪前）",
    "fig.Loss and accuracy (train, validation), learning rate": "损失与准确率（训练、验证），学习率",
    "fig.Gradient norm per layer": "各层梯度范数",
    "fig.Stream change per sublayer and update ratio per layer": "各子层对残差流的改变量与各层更新比",
    "fig.Last block's gradient norm against total depth (Xiong et al. 2020, Theorem 1)":
        "最后一个块的梯度范数与总深度的关系（Xiong 等人 2020，定理 1）",
    "fig.flat (Theorem 1, Post-LN)": "水平（定理 1，Post-LN）",
    "fig.∝ L^-½ (Theorem 1, Pre-LN)": "∝ L^-½（定理 1，Pre-LN）",
    "fig.‖∇θ‖ of the last block": "最后一个块的 ‖∇θ‖",
    "fig.t.stream_change": "残差流改变量 ‖x_out − x_in‖/‖x_in‖，{sub}",
    "fig.t.raw_branch": "原始分支 ‖F‖/‖x‖（门控、缩放、N_out 之前），{sub}",
    "fig.‖x_out − x_in‖/‖x_in‖": "‖x_out − x_in‖/‖x_in‖",
    "fig.Attention": "注意力",
    "fig.Depth profile": "深度剖面",
    "fig.Rank residual per layer (→ 0: tokens collapse to one vector)": "各层秩残差（→ 0：词元坍缩为同一个向量）",
    "fig.layer (block index, 0 = nearest the input)": "层（块编号，0 = 最靠近输入）",
    "fig.gradient norm of the last (solid) and first (dotted) block": "最后一个块（实线）和第一个块（点线）的梯度范数",
    "fig.residual mean square after the last block": "最后一个块之后的残差均方值",
    "fig.depth L (blocks)": "深度 L（块数）",
    "fig.Gradient norm and residual mean square against depth": "梯度范数与残差均方值随深度的变化",
    "fig.Δ loss": "Δ 损失",
    "fig.mean square E[x²]": "均方值 E[x²]",
    "fig.‖∇θ‖ of the block": "块的 ‖∇θ‖",
    "fig.‖∇θ‖ attention": "‖∇θ‖ 注意力",
    "fig.‖∇θ‖ cross-attention": "‖∇θ‖ 交叉注意力",
    "fig.‖∇θ‖ MLP": "‖∇θ‖ MLP",
    "fig.‖∇θ‖ first block": "‖∇θ‖ 第一个块",
    "fig.‖∇θ‖ last block": "‖∇θ‖ 最后一个块",
    "fig.‖∇θ‖ last / first": "‖∇θ‖ 最后 / 第一",
    "fig.mean square E[x²], last block": "均方值 E[x²]，最后一个块",
    "fig.t.no_metric": "这些配置中没有 {metric}",
    "fig.no depth sweep yet": "还没有深度扫描",
    "fig.t.resid_heatmap": "训练过程中各层残差流 {stat}",
    "fig.t.grad_sub": "{sub} 权重 ‖∇‖（逐层）",
    "fig.t.clip": "裁剪 = {clip}",
    "fig.t.head": "头 {h}",
    "fig.t.attention_of": "{layer} 在第 {step} 步的注意力（探测样例）",
    "fig.t.entropy_of": "每个头的注意力熵，{layer}",
    "fig.t.label_step": "{label} 第 {step} 步",
    "fig.t.step": "第 {step} 步",
    "fig.t.diff": "差异视图（{b} − {a}）",
    "fig.t.diff_loss": "训练损失，{b} − {a}",
    "fig.t.diff_grad": "各层梯度范数，{b} − {a}（最新）",
    "fig.t.first_block": "{label} · 第一个块",
    "fig.t.seed_band": "{label} · 种子色带",
}

# ---- 课程 -------------------------------------------------------------------------------------------
TEXT.update({
    "lessons.title": "课程",
    "lessons.caption": "六个实验，现场复现已发表的结果，采用“先预测、再观察”的形式：读问题，写下你的预测，"
                       "运行，然后看预期的效应是否出现——附带具体数字。",
    "lessons.open": "打开第 {n} 课",
    "lessons.paper": "论文：{citation}",
    "lessons.all": "全部课程",
    "lessons.question": "问题",
    "lessons.predict": "你的预测",
    "lessons.predict_label": "运行之前先预测：",
    "lessons.experiment": "实验",
    "lessons.look": "看什么",
    "lessons.why": "为什么",
    "lessons.why_after": "为什么？（运行之后再读）",
    "lessons.note": "在这个规模下结果有多可靠？",
    "lessons.run": "运行实验",
    "lessons.run_help.train": "把下面的配置一起训练（相同的数据、相同的种子），并检查预期的效应。",
    "lessons.run_help.init": "对每个种子的新模型做一次前向和反向传播，然后检查。",
    "lessons.run_init": "在初始化时计算",
    "lessons.stop": "停止",
    "lessons.reset": "清除",
    "lessons.busy": "课程实验正在运行。",
    "lessons.start_hint": "按 **运行实验**。训练过程中图表会逐步填充；结束时，课程会用数字检查预期的效应。",
    "lessons.computing": "正在计算初始化时的统计量……",
    "lessons.progress": "**{status}** · 第 {step}/{total} 步 · {elapsed:.1f} 秒",
    "lessons.verdict": "结论",
    "lessons.verdict_ok": "预期的效应出现了。",
    "lessons.verdict_fail": "这次运行中预期的效应没有（完全）出现。",
    "lessons.no_verdict": "运行在结束前被停止了：没有结论。请重新运行到结束。",
    "lessons.claim_ok": ":material/check_circle: {text}",
    "lessons.claim_fail": ":material/cancel: {text}",
    "lessons.you_predicted": "你的预测是 **({yours})**；论文的预测是 **({answer})**。",
    "lessons.no_prediction": "你没有做预测——下次请在运行前先选定一个。",
    "lessons.fail_hint": "小模型和单个种子可能出人意料。看看哪一条没有成立以及它的数字；试试课程本身的设置"
                         "（侧边栏中的“恢复课程设置”）或换一个种子。",
    "lessons.configs.train": "配置（同步训练：相同的初始种子、相同的批次）：",
    "lessons.configs.init": "配置（新初始化的模型，每个都用相同的种子和批次）：",
    "lessons.shared": "共有：{shared}",
    "lessons.col.config": "配置",
    "lessons.col.block": "块",
    "lessons.block.seed_article": "原文的写法（仅本课）",
    "lessons.block.standard": "标准",
    "lessons.controls": "课程设置",
    "lessons.controls_help": "本课允许你修改的设置；其余的都固定，这样全班运行的是同一个实验。",
    "lessons.defaults": "恢复课程设置",
    "lessons.set_by_lesson": "由课程的各个配置设定：{fields}。",
    "lessons.unlock": "教师：解锁全部控件",
    "lessons.unlock_help": "显示本课模型、块、任务和训练的全部设置（课程链接打开时是锁定的：学员只看到本课自己的设置）。",
    "lessons.quick": "快速运行（缩小规模，与测试相同）",
    "lessons.quick_help": "更少的步数和种子：同样的效应，用同样的阈值检查，几秒钟完成。",
    "lessons.link": "发给全班的课程链接（以锁定方式、当前语言打开）：",
    "lessons.open_in": "在“{page}”页打开这些配置",
    "lessons.open_in_help": "把课程的配置载入那个页面，所有控件都可用。",
    "lessons.settings_problem": "请先修正课程设置：{problems}",
    "lessons.unknown": "没有第 {value} 课；请在下面选择一课。",
    "lessons.chart.loss": "训练损失",
    "lessons.chart.grad": "全局梯度范数（裁剪前）",
    "lessons.chart.rank": "各层秩残差（第一步为灰色）",
    "lessons.chart.resid": "各层残差流 RMS（第一步为灰色）",
    "lessons.chart.grad_layers": "各层梯度范数（第一步为灰色）",
    "lessons.chart.init_grad": "初始化时每个块的梯度范数",
    "lessons.chart.init_resid": "初始化时每个块之后残差流的均方值",
    "lessons.seed_code": "原文中的编码器层，原样照录：",
    "lessons.scale_reduced": "快速运行（缩小规模）",

    # ---- 第 1 课 ----
    "lesson.1.title": "1 · 为什么需要残差连接？",
    "lesson.1.summary": "一个 12 块的编码器，有跳跃连接和没有跳跃连接：词元坍缩成同一个向量，训练停滞。",
    "lesson.1.question": "一个 12 块的 Transformer 编码器学习把 8 个符号组成的串反转。如果每个子层都失去跳跃连接——"
                         "x ← F(x) 而不是 x ← x + F(x)——会发生什么？",
    "lesson.1.option.a": "没什么大变化：注意力和 MLP 学到同样的函数，只是慢一点。",
    "lesson.1.option.b": "词元的表示坍缩到同一个向量附近，训练停滞在随机猜测的水平。",
    "lesson.1.option.c": "训练发散：几步之内损失就变成 NaN。",
    "lesson.1.run": "两个 12 块的 Pre-LN 编码器（Xavier 初始化、Adam、学习率 10⁻³），初始权重和批次都相同，同步训练："
                    "**A** 有跳跃连接，**B** 没有。",
    "lesson.1.look": "**各层秩残差**——‖X − 1x̄ᵀ‖/‖X‖，当每个词元都是同一个向量时为 0。第 1 步时，没有跳跃连接的模型在"
                     "最后几个块之后约为 10⁻⁷（float32 的舍入误差：完全坍缩），有跳跃连接的约为 0.5。再看**训练损失**："
                     "有跳跃连接时下降；没有时停在 ln 10 ≈ 2.30 附近（测得 2.18–2.32），也就是在 10 个符号中随机猜测的损失。",
    "lesson.1.why": "自注意力把每个词元替换为所有词元的加权平均。平均的平均会越来越相似：Dong、Cordonnier 和 Loukas"
                    "（2021）证明，纯注意力的秩随深度以双指数速度丢失——几层之后每个位置都是同一个向量，输出不再依赖于"
                    "位置，反转字符串就不可能了。跳跃路径 x + F(x) 把每个词元自己的向量绕过每一次平均传递下去，所以秩"
                    "得以保留；MLP 能减缓坍缩，但不能阻止它。同一条路径也把梯度直接传回前面的层（He 等人 2016）。",
    "lesson.1.note": "在 CPU 上每种规模各测量了 8 个种子（快速运行：100 步；完整：300 步）：每次运行中坍缩都是完全的"
                     "（没有跳跃连接时秩残差低于 10⁻⁶，有跳跃连接时为 0.50–0.72），没有跳跃连接时损失与随机猜测相差不到 "
                     "0.13（2.18–2.32），而有跳跃连接的模型达到 1.08–1.69（快速）或 0.007–0.011（完整）。它略低于随机猜测，"
                     "因为坍缩后的向量仍是该序列自身词元的平均：模型能学到出现了哪些符号，只是学不到它们的位置。检查要求"
                     "没有跳跃连接时的损失是有限值且与随机猜测相差在 ±0.2 以内：远高于随机猜测或发散都不算停滞。",
    "lesson.1.variant.skip": "有跳跃连接，x + F(x)",
    "lesson.1.variant.noskip": "没有跳跃连接，F(x)",
    "lesson.1.claim.collapse": "初始化时的秩坍缩：没有跳跃连接时最后一个块的秩残差为 {rr_off:.1e}（预期 ≤ {collapse:g}），"
                               "有跳跃连接时为 {rr_on:.2f}（预期 ≥ {healthy:g}）。",
    "lesson.1.claim.stall": "训练停滞：没有跳跃连接时最终损失 {loss_off:.3f}（随机猜测为 {chance:.3f}；预期为有限值，且与之相差在 "
                            "±{stall:g} 以内——远高于随机猜测或发散都不算停滞），有跳跃连接时为 {loss_on:.3f}（预期至少低 {gap:g}）。",
    "lesson.1.ok": "没有跳跃连接时，词元在初始化时就坍缩成同一个向量，模型学不会这个任务；有了跳跃连接它就能学会。",
    "lesson.1.fail": "这次运行中缺少部分预期效应：请看标记为 ✗ 的那一条及其数字。",

    # ---- 第 2 课 ----
    "lesson.2.title": "2 · 初始化时的 Post-LN 与 Pre-LN",
    "lesson.2.summary": "在任何训练步之前：Post-LN 和 Pre-LN 的梯度在哪里大，残差流如何增长。",
    "lesson.2.question": "在任何训练之前，一个 12 块的解码器中：从输入到输出，每个块参数的梯度如何变化？分别看 Post-LN，"
                         "x ← LN(x + F(x))，和 Pre-LN，x ← x + F(LN(x))。残差流的大小又会怎样？",
    "lesson.2.option.a": "Pre-LN 的梯度朝输出方向变小，Post-LN 的不会；Pre-LN 的残差流随深度增长，Post-LN 的保持为 1。",
    "lesson.2.option.b": "两者的梯度剖面和残差流都一样；只有训练过程不同。",
    "lesson.2.option.c": "Post-LN 的梯度朝输出方向变小；Post-LN 的残差流随深度增长。",
    "lesson.2.run": "不训练：对刚初始化的模型（Xavier，即论文的设置）做一次前向和一次反向传播，Post-LN 和 Pre-LN 各若干"
                    "个种子。记录每个块参数的梯度范数，以及每个块之后残差流的均方值。",
    "lesson.2.look": "**每个块的梯度范数**（对数坐标）：Pre-LN 的朝输出方向稳步下降（最后一个块的梯度最小）；Post-LN 的"
                     "大致保持水平。**残差流的均方值**：Pre-LN 的大约随层号线性增长；Post-LN 的在每个块之后都正好是 1。",
    "lesson.2.why": "Xiong 等人（2020）的定理 1：初始化时，最后一层权重的梯度对 Post-LN 是 O(d·√ln d)，与总深度 L "
                    "无关；对 Pre-LN 则是 O(d·√(ln d / L))——Pre-LN 模型越深，最后一层的梯度越小，因为它最终的归一化"
                    "要除以 ‖x_L‖，而在 Pre-LN 中每个块都把一个大小大致恒定的分支加到一个从不重新归一化的残差流上，"
                    "所以 E‖x_ℓ‖² 随 ℓ 增长（引理 2）。这是关于总深度的结论；下面的“定理 1”针对 L = 2…48 画出了它。"
                    "他们的图 3 展示的是同一个模型沿各层的剖面：Post-LN 的梯度朝输出方向增大，Pre-LN 的保持水平。"
                    "在 Adam 归一化的步长下，Post-LN 靠近输出处的大梯度会让大的学习率把这些参数移动得太远——这就是"
                    "它需要预热的原因（第 3 课）。这个小模型沿各层显示的是什么，见说明：是与 Pre-LN 的差别，而不是"
                    "明显的上升。",
    "lesson.2.note": "在 32 个种子上测量（d_model 32，12 个块）：ln‖∇‖ 随层号的斜率，Pre-LN 为 −0.066 ± 0.021（种子间的"
                     "离散），Post-LN 为 +0.010 ± 0.048。所以在这个规模下 Post-LN 的剖面大致是平的——并不像论文图 3 那样"
                     "上升（在 stdlib-lm 上用 ReLU、T = 32 时它会上升：6–24 个块时最后/第一个块之比为 1.41–2.14，见"
                     "“初始化时”页面）；稳定成立的是它与 Pre-LN 的差别。因此检查在 8 个种子上取平均（快速运行：5 个），"
                     "要求差别至少 0.03——在 4 组互不重叠的 8 个种子上它是 0.040–0.100，在 6 组 5 个种子上是 "
                     "0.047–0.113——12 个 Pre-LN 块上均方值增长 ×4.4–4.8（5 个种子的各组为 ×4.1–5.0）。在这些设置下的"
                     "定理 1（8 个种子，L = 2…48）：Post-LN 最后一个块的梯度中位数 1.29 → 2.57，双对数斜率 +0.21"
                     "（定理：平的，是一个与 L 无关的上界）；Pre-LN 的 0.79 → 0.40，斜率 −0.24（定理：至多 ∝ L^-½）。",
    "lesson.2.variant.post": "Post-LN",
    "lesson.2.variant.pre": "Pre-LN",
    "lesson.2.claim.gradients": "{seeds:.0f} 个种子上的梯度剖面：ln‖∇‖ 随层号的斜率，Pre-LN 为 {slope_pre:+.3f}（预期 ≤ "
                                "−{pre_slope:g}），Post-LN 为 {slope_post:+.3f}（预期至少高 {slope_gap:g}）。",
    "lesson.2.claim.growth": "{layers:.0f} 个块上的残差增长：Pre-LN 的均方值从第一个块到最后一个块增长 ×{growth_pre:.2f}"
                             "（预期 ≥ ×{growth:g}）。Post-LN 的 ×{growth_post:.3f} 是定义而非发现：每个 Post-LN 块都以 "
                             "LayerNorm 结束（初始化时 γ = 1、β = 0），所以它的均方值按构造就是 1。",
    "lesson.2.ok": "Pre-LN 的梯度朝输出方向变小，残差流随深度增长；Post-LN 的残差流保持归一化，梯度也不像 Pre-LN "
                   "那样变小。",
    "lesson.2.fail": "在这些设置下缺少部分预期效应：请看标记为 ✗ 的那一条及其数字。",

    # ---- 第 3 课 ----
    "lesson.3.title": "3 · 预热拯救 Post-LN",
    "lesson.3.summary": "高学习率下有无预热：Post-LN 需要预热，Pre-LN 不需要。",
    "lesson.3.question": "四个 6 块的解码器在高学习率（10⁻²，Adam）下学习反转字符串。其中两个在前 150 步中把学习率"
                         "线性地逐渐升高（预热）。哪些能学会这个任务？",
    "lesson.3.option.a": "四个都能：预热只是让开头平滑一点。",
    "lesson.3.option.b": "没有预热的 Post-LN 失败；有预热时它能训练；Pre-LN 有没有预热都能训练。",
    "lesson.3.option.c": "Pre-LN 需要预热；Post-LN 不需要。",
    "lesson.3.run": "四个解码器用相同的种子、在相同的批次上同步训练：**A** Post-LN 无预热，**B** Post-LN 有预热，"
                    "**C** Pre-LN 无预热，**D** Pre-LN 有预热。学习率 10⁻²，预热后保持不变；梯度裁剪到范数 1。",
    "lesson.3.look": "**训练损失**：没有预热的 Post-LN 降到 ln 10 ≈ 2.30 后就停在那里——它只学会了每个符号出现的频率——"
                     "而另外三个都趋向 0。**全局梯度范数**（裁剪到 1 之前）：Post-LN 起始的梯度约为 Pre-LN 的 3 倍（这里约 7 对约 "
                     "2.4）；没有预热时，几步完整大小的更新就把它降到约 0.5，此后一直停在那里，而损失停在随机猜测的"
                     "水平：模型落入了一个平坦区域。有预热时它会继续学习。",
    "lesson.3.why": "初始化时 Post-LN 靠近输出处的梯度很大（Xiong 等人 2020；在这个小模型中表现为比 Pre-LN 的大，"
                    "而不是沿各层上升，见第 2 课）。Adam 对每一步做归一化，所以在 10⁻² 时每个权重一下子"
                    "移动约 10⁻²——对最后几层来说太远了：模型落入一个平坦区域，只会预测符号频率，梯度随之消失。预热让"
                    "最初的步子保持很小，直到模型离开危险区域（Xiong 等人 2020，第 3 节；Liu 等人 2020 补充指出，Adam "
                    "的方差估计在最初几步本身就不可靠）。Pre-LN 的梯度从一开始就尺度合适，所以不需要预热——这也是 "
                    "GPT-2 及其后大多数模型把归一化放在前面的原因之一。",
    "lesson.3.note": "测量了 4 个种子（快速运行：200 步，预热 150 步）和 3 个种子（完整：300 步，预热 150 步）：没有预热"
                     "的 Post-LN 每次都停在 2.31–2.32（随机猜测 2.30；比较页面会把它标为“停滞在一元（unigram）损失”），"
                     "有预热时为 0.011–0.18；Pre-LN 两种情况都低于 0.04。"
                     "在较低的学习率（10⁻³–5·10⁻³）下，6 块的 Post-LN 不预热也能训练：失败需要高学习率。",
    "lesson.3.variant.post": "Post-LN，无预热",
    "lesson.3.variant.post_warmup": "Post-LN，有预热",
    "lesson.3.variant.pre": "Pre-LN，无预热",
    "lesson.3.variant.pre_warmup": "Pre-LN，有预热",
    "lesson.3.claim.post_fails": "没有预热的 Post-LN 失败或落后：最终损失 {loss_post:.3f}（随机猜测 {chance:.3f}），"
                                 "预期比有预热的 Post-LN（{loss_post_warmup:.3f}）至少高 {gap:g}。",
    "lesson.3.claim.warmup_rescues": "有预热时 Post-LN 能训练：最终损失 {loss_post_warmup:.3f}（预期 ≤ {trained:g}）。",
    "lesson.3.claim.pre_either": "Pre-LN 两种情况都能训练：无预热最终损失 {loss_pre:.3f}，有预热 {loss_pre_warmup:.3f}"
                                 "（预期 ≤ {trained:g}）。",
    "lesson.3.ok": "在这个学习率下，Post-LN 没有预热就失败，有预热就能训练；Pre-LN 两种情况都能训练。",
    "lesson.3.fail": "这次运行中缺少部分预期效应：请看标记为 ✗ 的那一条及其数字。",

    # ---- 第 4 课 ----
    "lesson.4.title": "4 · 归一化类型：LayerNorm、RMSNorm、DyT、无",
    "lesson.4.summary": "同一个 Pre-LN 模型配四种归一化：归一化的哪些细节真正重要？",
    "lesson.4.question": "同一个 6 块的 Pre-LN 解码器，同样的任务，同样的种子——只有归一化不同：LayerNorm、RMSNorm"
                         "（不减均值）、DyT（tanh(αx)：完全不用统计量）或者不用归一化。哪些能训练？",
    "lesson.4.option.a": "只有 LayerNorm；其他都是会失败的近似。",
    "lesson.4.option.b": "四个都差不多：在 Pre-LN 中起作用的是跳跃路径。",
    "lesson.4.option.c": "LayerNorm、RMSNorm 和 DyT 都能训练；没有归一化时残差流在初始化时就爆炸，训练失败。",
    "lesson.4.run": "四个 6 块的 Pre-LN 解码器，用相同的初始权重（Xavier）在相同的批次上同步训练，学习率 10⁻³："
                    "**A** LayerNorm，**B** RMSNorm，**C** DyT，**D** 无归一化。",
    "lesson.4.look": "**训练损失**（对数坐标）：LayerNorm 和 RMSNorm 几乎重合，DyT 起步较慢，随后追上。第 1 步的"
                     "**各层残差流 RMS**：没有归一化时，最后一个块之后的残差流比 LayerNorm 大 10–18 倍，第一个损失约为 50 "
                     "而不是约 3，梯度范数达到数千。",
    "lesson.4.why": "LayerNorm 对每个词元先减均值再缩放。Zhang 和 Sennrich（2019）发现起作用的是缩放：RMSNorm 去掉了减均值，"
                    "计算更省，训练效果一样好。Zhu 等人（2025）走得更远：DyT 用逐元素的 tanh(αx)（α 可学习）代替统计量，"
                    "像归一化一样压缩过大的值，在大模型中与 LayerNorm 效果相当。完全没有归一化时，Pre-LN 的分支读取的是"
                    "原始残差流：在 Xavier 权重和 N(0, 1) 嵌入下，每个块都会放大残差流，六个块之后 logits 极大，初始化时的"
                    "损失约为随机猜测的 20 倍，梯度爆炸。原文把归一化说成加快收敛的手段；在这里它决定了模型能不能训练。",
    "lesson.4.note": "测量了 3 个种子（完整：300 步）：LayerNorm 0.012–0.015，RMSNorm 0.012–0.015，DyT 0.020–0.031，"
                     "无归一化 3.1–4.8（梯度裁剪到 1 时不会发散；它停在随机猜测之上）；没有归一化时最后一个块之后的残差流"
                     "起初是 LayerNorm 的 10–13 倍。DyT 起步较慢：在 10⁻³ 下 150 步后它仍约为 "
                     "1.5，而 LayerNorm 已是 0.2–0.4；所以快速运行用 3·10⁻³ 训练 150 步，在 4 个种子中三者都训练成功"
                     "（LayerNorm 和 RMSNorm 0.005–0.008，DyT 0.007–0.017；无归一化 3.4–15，其残差流是 LayerNorm 的 "
                     "10–18 倍）。检查要求 LayerNorm 和 RMSNorm 最终相差不超过 0.1，*并且*都训练成功（≤ 0.5）：两个一样"
                     "停在随机猜测的运行不算通过。",
    "lesson.4.variant.layernorm": "LayerNorm",
    "lesson.4.variant.rmsnorm": "RMSNorm",
    "lesson.4.variant.dyt": "DyT",
    "lesson.4.variant.none": "无归一化",
    "lesson.4.claim.ln_rms": "LayerNorm 和 RMSNorm 都能训练且结果相近：最终损失 {loss_ln:.3f} 和 {loss_rms:.3f}"
                             "（预期各自 ≤ {trained:g}，且相差不超过 {same:g}）。",
    "lesson.4.claim.dyt": "DyT 能训练：最终损失 {loss_dyt:.3f}（预期 ≤ {trained:g}）。",
    "lesson.4.claim.none": "没有归一化时，第 {layers:.0f} 个块之后的残差流初始 RMS 为 {rms_none:.1f}，是 LayerNorm 的 "
                           "{rms_ln:.2f} 的 ×{ratio:.1f}（预期 ≥ ×{blowup:g}），最终损失为 {loss_none:.3f}（预期比 "
                           "LayerNorm 至少高 {gap:g}）。",
    "lesson.4.ok": "LayerNorm、RMSNorm 和 DyT 都能训练；完全没有归一化时，残差流在初始化时就爆炸，模型学不会。",
    "lesson.4.fail": "这次运行中缺少部分预期效应：请看标记为 ✗ 的那一条及其数字。",

    # ---- 第 5 课 ----
    "lesson.5.title": "5 · 走向更深：DeepNorm、ReZero、Pre-LN 不断增长的残差流",
    "lesson.5.summary": "24 个块：普通 Post-LN 失败；DeepNorm 和 ReZero 能训练；Pre-LN 的残差流随深度增长，"
                        "LN-Scaling 能抑制它。",
    "lesson.5.question": "现在是 24 个块，学习率 10⁻³，没有预热。普通 Post-LN；DeepNorm，x ← LN(αx + F(x))，α = (2L)^¼，"
                         "分支的初始权重更小；ReZero，x ← x + a·F(x)，a 可学习、从 0 开始，没有归一化；以及 Pre-LN。"
                         "哪些能训练？",
    "lesson.5.option.a": "四个都能：24 个块并不算深。",
    "lesson.5.option.b": "只有 Pre-LN。",
    "lesson.5.option.c": "普通 Post-LN 失败；DeepNorm、ReZero 和 Pre-LN 都能训练。",
    "lesson.5.run": "四个 24 块的解码器同步训练：**A** Post-LN，**B** DeepNorm，**C** ReZero（无归一化），**D** Pre-LN。"
                    "然后在初始化时比较 24 块的 Pre-LN 和 LN-Scaling（x ← x + F(LN(x)/√ℓ)）模型的残差流。",
    "lesson.5.look": "**训练损失**：Post-LN 停在随机猜测的水平，另外三个都在学习（Pre-LN 较慢）。**各层残差流 RMS**："
                     "Pre-LN 的沿深度增长，而 Post-LN 和 DeepNorm 的保持为 1。在结论中，会把 Pre-LN 初始化时的增长与 "
                     "LN-Scaling 的作比较。",
    "lesson.5.why": "DeepNet（Wang 等人 2022）保留了 Post-LN 在相加之后的归一化，但加大跳跃路径的权重（α > 1）并缩小分支的"
                    "初始权重（β < 1），从而限制模型在最初几次更新中的变化；它训练了 1000 层。ReZero（Bachlechner 等人"
                    " 2020）让每个块从恒等映射开始（a = 0），由训练决定每个分支加多少。Pre-LN 也能训练，但它的残差流随深度"
                    "增长，所以越靠后的块对它的改变相对越小：Sun 等人（2025）称之为“深度诅咒”——大语言模型中很多深层可以"
                    "去掉而几乎不损失——并把每个块归一化后的输入乘以 1/√ℓ（LN-Scaling），使增长保持很小。",
    "lesson.5.note": "测量了 3 个种子（完整：10⁻³ 下 300 步）和 4 个种子（快速：3·10⁻³ 下 80 步）：Post-LN 每次都停在 "
                     "2.31–2.33（随机猜测 2.30）；DeepNorm 为 0.007–0.082，ReZero 为 0.0015–0.031。初始化时（在学习者的"
                     "种子及其后的种子上测量：每次运行 3 个初始化，快速运行 2 个）24 个块上 Pre-LN 的均方值增长 ×8.7–9.9，"
                     "LN-Scaling 为 ×1.7–1.8。在这个深度下 Pre-LN 本身较慢（快速运行中 0.51–0.74，300 步后 "
                     "0.009–0.011）。完整运行在一台共享的双核机器上用了 70–110 秒。",
    "lesson.5.variant.post": "Post-LN",
    "lesson.5.variant.deepnorm": "DeepNorm",
    "lesson.5.variant.rezero": "ReZero（无归一化）",
    "lesson.5.variant.pre": "Pre-LN",
    "lesson.5.variant.lns": "LN-Scaling",
    "lesson.5.claim.post_fails": "普通 Post-LN 失败或落后：最终损失 {loss_post:.3f}，预期比 DeepNorm（{loss_deepnorm:.3f}）"
                                 "和 ReZero（{loss_rezero:.3f}）中较好的一个至少高 {gap:g}。",
    "lesson.5.claim.deep_trains": "DeepNorm 和 ReZero 能训练：最终损失 {loss_deepnorm:.3f} 和 {loss_rezero:.3f}"
                                  "（预期 ≤ {trained:g}）；Pre-LN 为 {loss_pre:.3f}。",
    "lesson.5.claim.growth": "初始化时在 {layers:.0f} 个块上，Pre-LN 残差流的均方值增长 ×{growth_pre:.1f}（预期 ≥ "
                             "×{growth:g}）；LN-Scaling 为 ×{growth_lns:.1f}（预期至多为 Pre-LN 的 {lns_fraction:g}）。",
    "lesson.5.ok": "在这个深度下普通 Post-LN 无法训练，而 DeepNorm 和 ReZero 可以；Pre-LN 的残差流随深度增长，"
                   "LN-Scaling 的 1/√ℓ 使它保持很小。",
    "lesson.5.fail": "这次运行中缺少部分预期效应：请看标记为 ✗ 的那一条及其数字。",

    # ---- 第 6 课 ----
    "lesson.6.title": "6 · 找出错误",
    "lesson.6.summary": "本项目起源的那篇文章中的编码器层，原样照录，与正确的 Post-LN 块对比：图表揭示了什么。",
    "lesson.6.question": "本项目起源的那篇文章给出了下面的编码器层。读一读它的 forward：这是 BERT 的 Post-LN 块，"
                         "即 x ← LN(x + Attn(x))，然后 x ← LN(x + FFN(x)) 吗？训练会显示什么？",
    "lesson.6.option.a": "没问题：这就是 BERT 的块，只是写法不同。",
    "lesson.6.option.b": "它是错的：前馈层没有残差路径，而 x + norm(x) 是把 x 的归一化副本加到 x 自己身上——残差流不再"
                         "归一化，模型训练得更差。",
    "lesson.6.option.c": "它根本无法运行：形状对不上。",
    "lesson.6.run": "两个 6 块的 Post-LN 编码器，采用原文的形状（前馈宽度 = d_model，ReLU），初始权重和批次都相同："
                    "**A** 正确的块，**B** 原文照录的块。",
    "lesson.6.look": "**各层残差流 RMS**：正确的块在每个块之后都正好是 1（初始化时 LayerNorm 的 γ = 1）；原文的块约为 "
                     "1.6——h + LN(h) 既不是归一化的，也不是残差。**训练损失**：原文的块远远落后。**各层梯度范数**："
                     "第 1 步时，原文的块在每一层的梯度都大 3–4 倍（在这些设置下约 6–8 对 1.5–2），所以裁剪到范数 1 "
                     "时它的每一步被缩小得更多。",
    "lesson.6.why": "x = x + self.norm3(x) 看起来像残差连接，其实不是。子层的输入已经没有了——前一行用前馈层的输出 h "
                    "覆盖了 x——所以前馈层没有跳跃路径，被加上的是 h 自己的归一化副本。结果既不是 Post-LN（残差流没有"
                    "归一化：它的 RMS 约为 1 + ‖h‖/√d），也不是 Pre-LN，而且每个块都迫使信号和梯度穿过它的 FFN。正确的 "
                    "Post-LN 前馈子层是 x = norm2(x + ffn(x))——这正是原文中那个没被用到的 norm2 本该做的事。",
    "lesson.6.note": "复现了什么、没有复现什么：原文编码器的 forward 原样复现（带残差和 norm1 的注意力，然后是照原文写的"
                     "前馈层，参数形状相同）；这里 dropout 为 0（它不是错误所在），没被用到的 norm2 被省略。原文的其他"
                     "错误（解码器去关注编码器的输出而不是它自己，且没有因果掩码；Transformer.forward 使用了未定义的"
                     "名字）不在这次运行中。测量了 3 个种子（完整：10⁻³ 下 300 步）：正确的块 0.045–0.90，原文的块 "
                     "1.98–2.05；4 个种子（快速：3·10⁻³ 下 200 步）：0.006–0.087 对 2.18–2.27；原文的块之后残差流 RMS "
                     "为 1.60–1.75（正确的块为 1.00，这是按构造得到的：它以 LayerNorm 结束）。",
    "lesson.6.variant.correct": "正确的 Post-LN 块",
    "lesson.6.variant.seed_article": "原文的块",
    "lesson.6.claim.stream": "残差流不再归一化：初始化时各块之后的平均 RMS，原文的块为 {rms_seed:.2f}（预期 ≥ "
                             "{rms_bug:g}），正确的块的 {rms_correct:.3f} 是定义而非发现：它是 LayerNorm 的输出"
                             "（初始化时 γ = 1、β = 0），按构造就是 1。",
    "lesson.6.claim.training": "它训练得更差：原文的块最终损失 {loss_seed:.3f}，正确的块为 {loss_correct:.3f}（预期至少差 "
                               "{gap:g}；随机猜测 {chance:.3f}）。",
    "lesson.6.ok": "原文的块让残差流不再归一化，在相同的权重和数据下训练得远比正确的 Post-LN 块差。",
    "lesson.6.fail": "这次运行中缺少部分预期效应：请看标记为 ✗ 的那一条及其数字。",
})
