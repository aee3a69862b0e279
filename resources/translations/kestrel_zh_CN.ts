<?xml version="1.0" encoding="utf-8"?>
<!DOCTYPE TS>
<TS version="2.1" language="zh_CN">
<context>
    <name></name>
    <message>
        <location filename="../../app/ui/models/common.py" line="149"/>
        <source>llama.cpp could not be queried: </source>
        <translation>无法查询 llama.cpp：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="164"/>
        <source>%1 RAM</source>
        <translation>%1 内存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="165"/>
        <source>%1 RAM + %2 VRAM</source>
        <translation>%1 内存 + %2 显存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="45"/>
        <source>Could not reach the hub: </source>
        <extracomment>what a hub call is expected to fail with, besides app.models.download.DownloadError</extracomment>
        <translation>无法连接 Hub：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="53"/>
        <source>checking the partial file · %1</source>
        <translation>正在检查未完成的文件 · %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="55"/>
        <source>verifying · %1</source>
        <translation>正在校验 · %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="57"/>
        <source>done · %1</source>
        <translation>完成 · %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="59"/>
        <source>retrying</source>
        <translation>正在重试</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="64"/>
        <source>ETA %1</source>
        <translation>预计剩余 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="75"/>
        <source>Drop .gguf files here to add them (they stay where they are)</source>
        <translation>将 .gguf 文件拖放到此处即可添加（文件保留在原位置）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="109"/>
        <source>yes</source>
        <translation>有</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="109"/>
        <source>no</source>
        <translation>无</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="114"/>
        <source>Current model</source>
        <translation>当前模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="116"/>
        <source>Cannot be used: </source>
        <translation>无法使用：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="135"/>
        <source>At %1 tokens of context; %2 GPU layers</source>
        <translation>上下文为 %1 个 token 时；GPU 层数：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="137"/>
        <source>all</source>
        <translation>全部</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="139"/>
        <source>Weights, KV cache and compute buffer at %1 tokens of context</source>
        <translation>上下文为 %1 个 token 时的权重、KV 缓存和计算缓冲区</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="178"/>
        <source>No models yet. Drop .gguf files here, use “Add model file…”, or download one below.</source>
        <translation>还没有模型。可将 .gguf 文件拖放到此处、使用“添加模型文件…”，或在下方下载。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="35"/>
        <source>Segment %1: %2</source>
        <translation>第 %1 段：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="53"/>
        <source>Segment %1 of %2</source>
        <translation>第 %1 段，共 %2 段</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="55"/>
        <source>about %1 left</source>
        <translation>剩余约 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="62"/>
        <source>Stopped: %1 of %2 segments translated; the rest stays in the source language.</source>
        <translation>已停止：已翻译 %1 / %2 段；其余部分保留原文。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="64"/>
        <source>Translated %1 of %2 segments in %3.</source>
        <translation>已翻译 %1 / %2 段，用时 %3。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="67"/>
        <source>Source: %1 (detected).</source>
        <translation>源语言：%1（自动检测）。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="71"/>
        <source>1 warning below.</source>
        <translation>下方有 1 条警告。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/status.py" line="72"/>
        <source>%1 warnings below.</source>
        <translation>下方有 %1 条警告。</translation>
    </message>
</context>
<context>
    <name>AttachButton</name>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="75"/>
        <source>Attach a document and ask about all of it (PDF, DOCX, TXT, Markdown, HTML, RTF)</source>
        <translation>附加一份文档，并就其全部内容提问（PDF、DOCX、TXT、Markdown、HTML、RTF）</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="76"/>
        <source>Attach a document</source>
        <translation>附加文档</translation>
    </message>
</context>
<context>
    <name>AttachmentBar</name>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="116"/>
        <source>Remove the document: questions go to the chat again</source>
        <translation>移除文档：问题将重新发给聊天</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="117"/>
        <source>Remove the document</source>
        <translation>移除文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="142"/>
        <source>reading…</source>
        <translation>正在读取…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="148"/>
        <source>1 page</source>
        <translation>1 页</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="149"/>
        <source>%1 pages</source>
        <translation>%1 页</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="150"/>
        <source>%1 characters</source>
        <translation>%1 个字符</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="170"/>
        <source>Counting the document&apos;s tokens…</source>
        <translation>正在统计文档的词元…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="177"/>
        <source>Reading part %1 of %2…</source>
        <translation>正在阅读第 %1 部分（共 %2 部分）…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="181"/>
        <source>Reading the whole document…</source>
        <translation>正在阅读整份文档…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="184"/>
        <source>Combining the answers found…</source>
        <translation>正在合并找到的答案…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/attachment.py" line="188"/>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
</context>
<context>
    <name>BarChart</name>
    <message>
        <location filename="../../app/ui/models/chart.py" line="47"/>
        <source>Run a comparison to see the chart.</source>
        <translation>运行比较后即可查看图表。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/chart.py" line="52"/>
        <source>Decode speed (tokens/s, higher is better)</source>
        <translation>解码速度（tokens/s，越高越好）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/chart.py" line="55"/>
        <source>KL divergence vs. the most precise (lower is better)</source>
        <translation>与最精确变体的 KL 散度（越低越好）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/chart.py" line="91"/>
        <source>%1: hard to notice below</source>
        <translation>%1：低于此值难以察觉</translation>
    </message>
</context>
<context>
    <name>BaseModelNote</name>
    <message>
        <location filename="../../app/ui/widgets/base_model_note.py" line="39"/>
        <source>Get a chat model…</source>
        <translation>获取聊天模型…</translation>
    </message>
    <message>
        <location filename="../../app/ui/widgets/base_model_note.py" line="40"/>
        <source>Shows the chat model recommended for this computer, ready to download</source>
        <translation>显示为这台电脑推荐的聊天模型，可直接下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/widgets/base_model_note.py" line="55"/>
        <source>%1 is a base model: it continues text rather than following instructions, so its answers, summaries and translations are rough. A chat model does much better.</source>
        <translation>%1 是基础模型：它只会续写文本，而不会遵循指令，因此它的回答、摘要和翻译都比较粗糙。聊天模型的效果要好得多。</translation>
    </message>
</context>
<context>
    <name>CatalogView</name>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="68"/>
        <source>Model</source>
        <extracomment>Marked for lupdate: the headers are translated where the tree is built. A model&apos;s own row spans them all (name, parameters, licence); its quantizations fill the columns.</extracomment>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="68"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="69"/>
        <source>Memory (est.)</source>
        <translation>内存（估计）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="69"/>
        <source>Fit</source>
        <translation>适配</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="70"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="141"/>
        <source>Sizes marked ~ are estimates until the download starts. Every file is checked against the hub&apos;s SHA-256 before it is used.</source>
        <extracomment>What a catalog file is here: in use, in the library, bundled, being fetched, paused, or only on the hub (&quot;waiting&quot;: another catalog download is running; one at a time).</extracomment>
        <translation>标有 ~ 的大小在下载开始前为估计值。每个文件在使用前都会与模型库的 SHA-256 核对。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="162"/>
        <source>Recommended for this machine</source>
        <translation>为这台电脑推荐</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="250"/>
        <source>Paused at %1</source>
        <translation>已暂停于 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="251"/>
        <location filename="../../app/ui/models/catalog_view.py" line="256"/>
        <source>In use</source>
        <translation>使用中</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="251"/>
        <source>On this computer</source>
        <translation>在本机</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="252"/>
        <source>Bundled with Kestrel</source>
        <translation>随 Kestrel 附带</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="252"/>
        <source>Downloading…</source>
        <translation>正在下载…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="253"/>
        <location filename="../../app/ui/models/catalog_view.py" line="426"/>
        <source>Pausing…</source>
        <translation>正在暂停…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="256"/>
        <source>Use</source>
        <translation>使用</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="257"/>
        <source>Pause</source>
        <translation>暂停</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="258"/>
        <source>Resume</source>
        <translation>继续下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="258"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="307"/>
        <source>%1 parameters</source>
        <translation>%1 参数</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="309"/>
        <source>Base model</source>
        <translation>基础模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="311"/>
        <source>Recommended</source>
        <translation>推荐</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="317"/>
        <source>%1 parameters · trained for %2 tokens of context</source>
        <translation>%1 参数 · 训练上下文为 %2 个词元</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="320"/>
        <source>A base model: it continues text rather than following instructions.</source>
        <translation>基础模型：它会续写文本，而不是遵循指令。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="322"/>
        <source>From %1 on the Hugging Face hub</source>
        <translation>来自 Hugging Face 模型库的 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="338"/>
        <source>At %1 tokens of context</source>
        <translation>在 %1 个词元的上下文下</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="340"/>
        <source>Approximate: parameters × bits per weight; the hub gives the exact size when the download starts</source>
        <translation>近似值：参数量 × 每个权重的位数；下载开始时模型库会给出确切大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="343"/>
        <source>Weights, KV cache and compute buffer at %1 tokens of context</source>
        <translation>上下文为 %1 个 token 时的权重、KV 缓存和计算缓冲区</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="370"/>
        <source>Looking at this computer&apos;s memory…</source>
        <translation>正在查看这台电脑的内存…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="377"/>
        <source>No chat model in the catalog fits comfortably in this computer&apos;s free memory: %1 is free, the smallest needs about %2.</source>
        <translation>目录中没有聊天模型能宽松地放进这台电脑的空闲内存：空闲 %1，最小的模型约需 %2。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="380"/>
        <source>Close other programs and open Kestrel again, or use a model you already have.</source>
        <translation>请关闭其他程序后重新打开 Kestrel，或使用你已有的模型。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="385"/>
        <source>%1 download</source>
        <translation>下载 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="388"/>
        <source>free GPU memory</source>
        <translation>空闲显存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="388"/>
        <source>free memory</source>
        <translation>空闲内存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="389"/>
        <source>The largest chat model whose %1 file fits comfortably in this computer&apos;s %2: it needs about %3 of the %4 free, at most %5 %, so your other programs keep room.</source>
        <translation>其 %1 文件能宽松放进这台电脑%2的最大聊天模型：它约需空闲 %4 中的 %3，最多占 %5 %，让你的其他程序仍有余地。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="439"/>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="463"/>
        <source>Downloading %1 %</source>
        <translation>正在下载 %1 %</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="469"/>
        <source>verified</source>
        <translation>已校验</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="469"/>
        <source>not verified</source>
        <translation>未校验</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="470"/>
        <source>, resumed from %1</source>
        <translation>，从 %1 处继续</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="472"/>
        <source>Downloaded %1 (%2, %3%4). It is on this computer now.</source>
        <translation>已下载 %1（%2，%3%4）。它现在已在这台电脑上。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/catalog_view.py" line="481"/>
        <source>Paused. The partial file is kept; press Resume to continue.</source>
        <translation>已暂停。未完成的文件已保留；按“继续”接着下载。</translation>
    </message>
</context>
<context>
    <name>ChatPanel</name>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="60"/>
        <source>the model&apos;s end of text</source>
        <extracomment>Why a reply ended with no text, marked for lupdate (shown through ChatPanel.tr).</extracomment>
        <translation>模型的文本结束标记</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="61"/>
        <source>a stop string</source>
        <translation>停止字符串</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="62"/>
        <source>the length limit</source>
        <translation>长度上限</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="110"/>
        <location filename="../../app/ui/chat/panel.py" line="198"/>
        <source>New chat</source>
        <translation>新建对话</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="114"/>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="116"/>
        <source>Instructions the model sees before this conversation</source>
        <translation>模型在本对话开始前读到的指令</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="180"/>
        <source>Copied to the clipboard</source>
        <translation>已复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="208"/>
        <source>Stop the current answer before switching chats.</source>
        <translation>请先停止当前回答，再切换对话。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="274"/>
        <source>The document is still being read: send your question in a moment.</source>
        <translation>文档仍在读取中：请稍后再发送你的问题。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="293"/>
        <source>Waiting for the engine: it is busy with other work. Your message is answered next.</source>
        <translation>正在等待引擎：它正忙于其他工作。接下来就会回答你的消息。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="345"/>
        <source>Editing a sent message: sending replaces it and every later message.</source>
        <translation>正在编辑已发送的消息：发送后将替换这条消息及其后的所有消息。</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/chat/panel.py" line="411"/>
        <source>The conversation is longer than the context window: the %n oldest message(s) were left out of this answer (they stay in the history).</source>
        <translation>
            <numerusform>对话超出了上下文窗口：本次回答未纳入最早的 %n 条消息（它们仍保留在历史记录中）。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="450"/>
        <source>The model returned no text: it ended at once (%1). Try again, or rephrase the message.</source>
        <translation>模型没有返回任何文字：它立即结束了（%1）。请重试，或换一种说法。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/panel.py" line="365"/>
        <location filename="../../app/ui/chat/panel.py" line="459"/>
        <location filename="../../app/ui/chat/panel.py" line="505"/>
        <source>Stopped.</source>
        <translation>已停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/budget.py" line="23"/>
        <source>Context: %1 / %2 tokens, %3 kept for the answer</source>
        <translation>上下文：%1 / %2 个 token，其中 %3 个预留给回答</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/budget.py" line="25"/>
        <source>Context: about %1 / %2 tokens (estimated), %3 kept for the answer</source>
        <translation>上下文：约 %1 / %2 个 token（估算），其中 %3 个预留给回答</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/budget.py" line="30"/>
        <source> — too long: the oldest turns will be left out</source>
        <translation>——过长：将略去最早的几轮对话</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/budget.py" line="32"/>
        <source> — too long: sending will be refused</source>
        <translation>——过长：将无法发送</translation>
    </message>
</context>
<context>
    <name>CompareView</name>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="70"/>
        <source>Compare loads each checked variant in turn, runs the same prompt and a short text on it and uses the CPU fully while it runs (a minute or more for large models). Quality is the KL divergence from the most precise variant checked.</source>
        <translation>“比较”会依次加载每个勾选的变体，对其运行相同的提示词和一段短文本；运行期间会占满 CPU（大模型需要一分钟或更久）。质量以与所勾选的最精确变体之间的 KL 散度衡量。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="88"/>
        <source>Run comparison</source>
        <translation>运行比较</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="92"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="119"/>
        <source>Use recommended</source>
        <translation>使用推荐项</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="163"/>
        <source>Only one variant of this model is on this computer. Download or make another one to compare them.</source>
        <translation>本机上只有此模型的一个变体。请下载或制作另一个变体后再进行比较。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="182"/>
        <source>Wait until the model has finished answering or loading</source>
        <translation>请等待模型完成回答或加载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="183"/>
        <source>Check at least two variants</source>
        <translation>请至少勾选两个变体</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="193"/>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="214"/>
        <source>Stopping after the current variant…</source>
        <translation>当前变体完成后将停止…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="227"/>
        <source>Measured in %1 s.</source>
        <translation>测量用时 %1 秒。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="228"/>
        <source>Stopped early. </source>
        <translation>已提前停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="231"/>
        <source>The comparison failed: </source>
        <translation>比较失败：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="263"/>
        <source>Figures measured earlier on this computer (%1). Run again to refresh them.</source>
        <translation>这些是之前在本机测得的数据（%1）。再次运行即可刷新。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="273"/>
        <source>failed: </source>
        <translation>失败：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="275"/>
        <source>reference</source>
        <translation>基准</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="299"/>
        <source>Recommended: %1. </source>
        <translation>推荐：%1。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="43"/>
        <source>Quant</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="43"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="44"/>
        <source>Time to first token</source>
        <translation>首 token 延迟</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="44"/>
        <source>Prefill t/s</source>
        <translation>预填充 t/s</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="45"/>
        <source>Decode t/s</source>
        <translation>解码 t/s</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="45"/>
        <source>Memory</source>
        <translation>内存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/compare_view.py" line="46"/>
        <source>KL divergence</source>
        <translation>KL 散度</translation>
    </message>
</context>
<context>
    <name>Composer</name>
    <message>
        <location filename="../../app/ui/chat/composer.py" line="32"/>
        <source>Send</source>
        <translation>发送</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/composer.py" line="35"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/composer.py" line="37"/>
        <source>Cancel edit</source>
        <translation>取消编辑</translation>
    </message>
</context>
<context>
    <name>ConnectionsView</name>
    <message>
        <location filename="../../app/ui/models/connections.py" line="57"/>
        <source>Servers</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="62"/>
        <source>New</source>
        <translation>新建</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="63"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="71"/>
        <source>e.g. GPU server</source>
        <translation>例如：GPU 服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="72"/>
        <source>Name</source>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="76"/>
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="80"/>
        <source>optional</source>
        <translation>可选</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="81"/>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="85"/>
        <source>optional, https only: the system&apos;s certificates are used</source>
        <translation>可选，仅限 https：默认使用系统证书</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="87"/>
        <source>Choose…</source>
        <translation>选择…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="91"/>
        <source>CA file</source>
        <translation>CA 文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="96"/>
        <location filename="../../app/ui/models/connections.py" line="101"/>
        <source>as the server says</source>
        <translation>以服务器报告为准</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="97"/>
        <source>Context size</source>
        <translation>上下文大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="102"/>
        <source>How many requests Kestrel sends this server at once: a summary reads that many parts together. llama-server reports its slots (--parallel); for vLLM, set how many it should take.</source>
        <translation>Kestrel 同时向此服务器发送的请求数：摘要会同时读取这么多部分。llama-server 会报告它的槽位数（--parallel）；vLLM 请自行设置它应承担的数量。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="105"/>
        <source>Requests at once</source>
        <translation>同时请求数</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="115"/>
        <source>Save and check</source>
        <translation>保存并检查</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="126"/>
        <source>Models on this server</source>
        <translation>此服务器上的模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="131"/>
        <source>Use this model</source>
        <translation>使用此模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="156"/>
        <source>The saved servers cannot be read: </source>
        <translation>无法读取已保存的服务器：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="195"/>
        <source> (in use)</source>
        <translation>（使用中）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="213"/>
        <source>This address uses plain http to another computer: the API key travels unencrypted. Use https, or a server on this computer.</source>
        <translation>此地址通过明文 http 连接到另一台计算机：API 密钥将以未加密方式传输。请使用 https，或使用本机上的服务器。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="222"/>
        <source>The API key is kept in %1. Leave the field empty to keep it.</source>
        <translation>API 密钥保存在%1中。留空即可保留现有密钥。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="225"/>
        <source>A key you enter is kept in the system keyring, or where there is none, in a file only you can read.</source>
        <translation>你输入的密钥会保存在系统密钥环中；若没有密钥环，则保存在只有你能读取的文件中。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="240"/>
        <source>Choose a CA certificate file</source>
        <translation>选择 CA 证书文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="241"/>
        <source>Certificates (*.pem *.crt *.cer);;All files (*)</source>
        <translation>证书 (*.pem *.crt *.cer);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="255"/>
        <location filename="../../app/ui/models/connections.py" line="305"/>
        <source>Not saved: </source>
        <translation>未保存：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="268"/>
        <source>Checking %1…</source>
        <translation>正在检查 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="289"/>
        <source>Saved, but the check failed: </source>
        <translation>已保存，但检查失败：</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/models/connections.py" line="293"/>
        <source>Reachable: %1, %n model(s)</source>
        <translation>
            <numerusform>可以连接：%1，%n 个模型</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="295"/>
        <source>, context %1 tokens</source>
        <translation>，上下文 %1 个 token</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/models/connections.py" line="297"/>
        <source>, %n request(s) at once</source>
        <translation>
            <numerusform>，可同时处理 %n 个请求</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="321"/>
        <source>Could not remove the server: </source>
        <translation>无法移除服务器：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/connections.py" line="327"/>
        <source>%1 was removed, with its stored key.</source>
        <translation>已移除 %1 及其保存的密钥。</translation>
    </message>
</context>
<context>
    <name>ControlBar</name>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="159"/>
        <source>Format:</source>
        <translation>格式：</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="162"/>
        <source>TL;DR</source>
        <translation>简要</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="162"/>
        <source>Bullet points</source>
        <translation>要点列表</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="163"/>
        <source>Detailed</source>
        <translation>详细</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="168"/>
        <source>Language:</source>
        <translation>语言：</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="171"/>
        <source>Same as the document</source>
        <translation>与文档相同</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="171"/>
        <source>English</source>
        <translation>英语</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="172"/>
        <source>Chinese</source>
        <translation>中文</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="176"/>
        <source>Summarize</source>
        <translation>生成摘要</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="179"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
</context>
<context>
    <name>ConversationSidebar</name>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="41"/>
        <source>New chat</source>
        <translation>新建对话</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="48"/>
        <source>Search all messages…</source>
        <translation>搜索所有消息…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="96"/>
        <source>No messages match “%s”</source>
        <translation>没有与“%s”匹配的消息</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/chat/sidebar.py" line="108"/>
        <source>%n message(s)</source>
        <translation>
            <numerusform>%n 条消息</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="136"/>
        <source>Rename…</source>
        <translation>重命名…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="137"/>
        <source>Delete…</source>
        <translation>删除…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="142"/>
        <source>Rename chat</source>
        <translation>重命名对话</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="142"/>
        <source>Title:</source>
        <translation>标题：</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="149"/>
        <source>Delete chat</source>
        <translation>删除对话</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="150"/>
        <source>Delete “%s” and all its messages? This cannot be undone.</source>
        <translation>要删除“%s”及其全部消息吗？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/sidebar.py" line="153"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
</context>
<context>
    <name>DocumentAsk</name>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="104"/>
        <source>Attach a document</source>
        <translation>附加文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="105"/>
        <source>All files</source>
        <translation>所有文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="105"/>
        <source>Documents</source>
        <translation>文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="112"/>
        <source>Stop the current answer before attaching a document.</source>
        <translation>请先停止当前回答，再附加文档。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="131"/>
        <source>Can&apos;t attach this: %1</source>
        <translation>无法附加：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="139"/>
        <source>This is a very large document (%1 MB): every part of it is read for each question, which takes a long time.</source>
        <translation>这是一份非常大的文档（%1 MB）：每个问题都会读取它的每一部分，需要很长时间。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="148"/>
        <source>The document could not be attached: %1</source>
        <translation>无法附加该文档：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="192"/>
        <source>Sources:</source>
        <translation>来源：</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="192"/>
        <source>What each part says:</source>
        <translation>各部分的内容：</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="193"/>
        <source>None of the %1 parts of %2 answers this question.</source>
        <translation>%2 的 %1 个部分都没有回答这个问题。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="194"/>
        <source>The model gave no answer.</source>
        <translation>模型没有给出回答。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="195"/>
        <source>Stopped after reading %1 of %2 parts of %3.</source>
        <translation>已读取 %3 的 %1/%2 个部分后停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="196"/>
        <source>Read all %1 parts of %2; %3 had an answer.</source>
        <translation>已读取 %2 的全部 %1 个部分；其中 %3 个有答案。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="197"/>
        <source>Read the whole of %1 at once.</source>
        <translation>一次读取了 %1 的全文。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="229"/>
        <source>Source: %1 · %2</source>
        <translation>来源：%1 · %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="237"/>
        <source>The text of this source was not kept.</source>
        <translation>此来源的文本未被保留。</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="244"/>
        <source>Reading %1…</source>
        <translation>正在读取 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/document_ask.py" line="248"/>
        <source>The document cannot be read again, so this source cannot be shown: %1</source>
        <translation>无法再次读取该文档，因此无法显示此来源：%1</translation>
    </message>
</context>
<context>
    <name>DownloadSection</name>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="164"/>
        <source>List files</source>
        <translation>列出文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="168"/>
        <source>Repository</source>
        <translation>仓库</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="174"/>
        <source>File</source>
        <translation>文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="177"/>
        <source>Advanced</source>
        <translation>高级</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="186"/>
        <source>Hub address</source>
        <translation>Hub 地址</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="193"/>
        <location filename="../../app/ui/models/download_view.py" line="274"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="197"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="210"/>
        <source>Files are checked against the hub&apos;s SHA-256 before they are used. Nothing is fetched until you press a button.</source>
        <translation>文件在使用前会与 Hub 提供的 SHA-256 校验值核对。在你按下按钮之前不会下载任何内容。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="259"/>
        <source>Press Download to fetch %1 from %2.</source>
        <translation>按“下载”从 %2 获取 %1。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="274"/>
        <source>Resume</source>
        <translation>继续下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="275"/>
        <source>%1 already downloaded; continue from there</source>
        <translation>已下载 %1，将从断点继续</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="291"/>
        <source>Asking the hub for the files of %1…</source>
        <translation>正在向 Hub 查询 %1 的文件…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="306"/>
        <source>Connecting…</source>
        <translation>正在连接…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="312"/>
        <source>Stopping…</source>
        <translation>正在停止…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="332"/>
        <source>size unknown</source>
        <translation>大小未知</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="341"/>
        <source> and %1 more</source>
        <translation>，另有 %1 个</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="342"/>
        <source>%1 GGUF files: </source>
        <translation>%1 个 GGUF 文件：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="343"/>
        <source>This repository has no GGUF files.</source>
        <translation>此仓库中没有 GGUF 文件。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="355"/>
        <source> (resumed from %1)</source>
        <translation>（从 %1 处续传）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="357"/>
        <source>verified</source>
        <translation>已校验</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="357"/>
        <source>not verified</source>
        <translation>未校验</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="358"/>
        <source>Downloaded %1, %2, %3%4. It is in the list now.</source>
        <translation>已下载 %1，%2，%3%4。已加入列表。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/download_view.py" line="366"/>
        <source>Stopped. The partial file is kept; press Resume to continue.</source>
        <translation>已停止。已下载的部分会保留；按“继续下载”即可接着下载。</translation>
    </message>
</context>
<context>
    <name>DropZone</name>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="63"/>
        <source>Drop a document here</source>
        <translation>将文档拖放到此处</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="65"/>
        <source>PDF, DOCX, TXT, Markdown, HTML or RTF — or paste text with Ctrl+V. Every part is read; each point shows where it came from.</source>
        <translation>支持 PDF、DOCX、TXT、Markdown、HTML 或 RTF，也可用 Ctrl+V 粘贴文本。文档的每一部分都会被读取；每条要点都会注明出处。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="76"/>
        <source>Open…</source>
        <translation>打开…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="78"/>
        <source>Paste text</source>
        <translation>粘贴文本</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="99"/>
        <source>Can&apos;t use this: %1</source>
        <translation>无法使用：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="104"/>
        <source>Can&apos;t use this: only files and text can be dropped here</source>
        <translation>无法使用：此处只能拖放文件和文本</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/widgets.py" line="107"/>
        <source>Release to summarize it</source>
        <translation>松开即可生成摘要</translation>
    </message>
</context>
<context>
    <name>EngineStatus</name>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="57"/>
        <source>Loading model…</source>
        <translation>正在加载模型…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="62"/>
        <source>In use: %1 · %2 · %3</source>
        <translation>正在使用：%1 · %2 · %3</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="65"/>
        <source>In use: %1 · %2</source>
        <translation>正在使用：%1 · %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="69"/>
        <source>No model loaded</source>
        <translation>未加载模型</translation>
    </message>
</context>
<context>
    <name>FilesMixin</name>
    <message>
        <location filename="../../app/ui/translate/files.py" line="92"/>
        <source>One document at a time: opening the first one.</source>
        <translation>一次只能打开一个文档：将打开第一个。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="98"/>
        <source>Open a document to translate</source>
        <translation>打开要翻译的文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="99"/>
        <source>Documents (%1)</source>
        <translation>文档 (%1)</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="107"/>
        <source>Stop the current translation before opening another document.</source>
        <translation>请先停止当前翻译，再打开其他文档。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="117"/>
        <source>1 segment</source>
        <translation>1 段</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="117"/>
        <source>%1 segments</source>
        <translation>%1 段</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="146"/>
        <source>Copied to the clipboard</source>
        <translation>已复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="154"/>
        <source>Translated document (*%1)</source>
        <translation>译文文档 (*%1)</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="157"/>
        <source>Text (*.txt);;Markdown (*.md)</source>
        <translation>文本 (*.txt);;Markdown (*.md)</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="158"/>
        <source>Save the translation</source>
        <translation>保存译文</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="166"/>
        <source>Choose another name: the original document is never overwritten.</source>
        <translation>请换一个文件名：原始文档不会被覆盖。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="175"/>
        <source>Could not save %1: %2</source>
        <translation>无法保存 %1：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="178"/>
        <source>Saved %1</source>
        <translation>已保存 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="189"/>
        <source>The glossary could not be read: %1</source>
        <translation>无法读取术语表：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="203"/>
        <source>The glossary could not be saved: %1</source>
        <translation>无法保存术语表：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="208"/>
        <source>Glossary (%1)…</source>
        <translation>术语表（%1）…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/files.py" line="208"/>
        <source>Glossary…</source>
        <translation>术语表…</translation>
    </message>
</context>
<context>
    <name>GlossaryDialog</name>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="40"/>
        <source>Glossary</source>
        <translation>术语表</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="43"/>
        <source>Terms that must always be translated the same way, or kept as they are (names, brands). Each translation is checked for them.</source>
        <translation>始终以同一方式翻译或保持原样的术语（如人名、品牌）。每次翻译都会检查这些术语。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="49"/>
        <source>Term</source>
        <translation>术语</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="49"/>
        <source>Translation</source>
        <translation>译文</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="49"/>
        <source>Keep as is</source>
        <translation>保持原样</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="58"/>
        <source>Add term</source>
        <translation>添加术语</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="59"/>
        <source>Remove</source>
        <translation>移除</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="60"/>
        <source>Import…</source>
        <translation>导入…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="61"/>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="111"/>
        <source>Import glossary</source>
        <translation>导入术语表</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="112"/>
        <source>Glossaries (*.json *.tsv *.txt)</source>
        <translation>术语表 (*.json *.tsv *.txt)</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="118"/>
        <source>Glossary not imported</source>
        <translation>未导入术语表</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="124"/>
        <source>Export glossary</source>
        <translation>导出术语表</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="125"/>
        <source>JSON (*.json);;Tab-separated (*.tsv)</source>
        <translation>JSON (*.json);;制表符分隔 (*.tsv)</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/glossary_dialog.py" line="130"/>
        <source>Glossary not exported</source>
        <translation>未导出术语表</translation>
    </message>
</context>
<context>
    <name>GpuView</name>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="88"/>
        <source>Running on</source>
        <translation>运行于</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="91"/>
        <source>Layers on the GPU</source>
        <translation>GPU 上的层数</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="95"/>
        <source>This build</source>
        <translation>当前构建</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="98"/>
        <source>Memory</source>
        <translation>内存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="102"/>
        <source>Automatic (as many layers as fit in free GPU memory)</source>
        <translation>自动（空闲显存能容纳多少层就放多少层）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="104"/>
        <source>Manual</source>
        <translation>手动</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="169"/>
        <location filename="../../app/ui/models/gpu_view.py" line="218"/>
        <source>%1 of %2</source>
        <translation>%1 / %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="174"/>
        <source>no model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="178"/>
        <source>can offload layers to a GPU</source>
        <translation>可将层卸载到 GPU</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="179"/>
        <source>CPU only: this llama.cpp build cannot offload to a GPU (see the install docs for CUDA and Metal builds)</source>
        <translation>仅 CPU：此 llama.cpp 构建无法卸载到 GPU（CUDA 和 Metal 构建请参阅安装文档）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="183"/>
        <source>%1 RAM free of %2</source>
        <translation>空闲 %1 / 共 %2</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="186"/>
        <source>; %1: %2 free of %3</source>
        <translation>；%1 显存：空闲 %2 / 共 %3</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="200"/>
        <source>The last load was changed to make it fit: </source>
        <translation>为了能装下模型，上次加载做了调整：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="208"/>
        <source>With this build every layer runs on the CPU whatever is chosen here.</source>
        <translation>在此构建下，无论这里如何选择，所有层都在 CPU 上运行。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="210"/>
        <source>Kestrel offloads as many layers as fit in free GPU memory and falls back to fewer, then to a smaller context, if loading runs out of memory.</source>
        <translation>Kestrel 会把空闲显存能容纳的层尽量卸载到 GPU；如果加载时内存不足，会先减少层数，再缩小上下文。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="212"/>
        <source>0 runs everything on the CPU; the highest value puts every layer on the GPU. The model reloads when you let go of the slider.</source>
        <translation>0 表示全部在 CPU 上运行；最大值表示所有层都放到 GPU 上。松开滑块后模型会重新加载。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="217"/>
        <source> (all)</source>
        <translation>（全部）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/gpu_view.py" line="235"/>
        <source>Could not save the GPU layers: </source>
        <translation>无法保存 GPU 层数：</translation>
    </message>
</context>
<context>
    <name>InputBox</name>
    <message>
        <location filename="../../app/ui/chat/input_box.py" line="19"/>
        <source>Message Kestrel…  (Enter to send, Shift+Enter for a new line)</source>
        <translation>给 Kestrel 发消息…（Enter 发送，Shift+Enter 换行）</translation>
    </message>
</context>
<context>
    <name>KeyPlace</name>
    <message>
        <location filename="../../app/ui/widgets/key_place.py" line="17"/>
        <source>no API key</source>
        <translation>没有 API 密钥</translation>
    </message>
    <message>
        <location filename="../../app/ui/widgets/key_place.py" line="19"/>
        <source>the environment variable %1</source>
        <translation>环境变量 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/widgets/key_place.py" line="22"/>
        <source>the system keyring</source>
        <translation>系统密钥环</translation>
    </message>
    <message>
        <location filename="../../app/ui/widgets/key_place.py" line="24"/>
        <source>a file only you can read: %1</source>
        <translation>只有你能读取的文件：%1</translation>
    </message>
</context>
<context>
    <name>LanguageNames</name>
    <message>
        <location filename="../../app/base/languages.py" line="47"/>
        <source>English</source>
        <translation>英语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="48"/>
        <source>Simplified Chinese</source>
        <translation>简体中文</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="49"/>
        <source>Traditional Chinese</source>
        <translation>繁体中文</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="50"/>
        <source>Japanese</source>
        <translation>日语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="51"/>
        <source>Korean</source>
        <translation>韩语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="52"/>
        <source>French</source>
        <translation>法语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="53"/>
        <source>German</source>
        <translation>德语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="54"/>
        <source>Spanish</source>
        <translation>西班牙语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="55"/>
        <source>Russian</source>
        <translation>俄语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="56"/>
        <source>Portuguese</source>
        <translation>葡萄牙语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="57"/>
        <source>Italian</source>
        <translation>意大利语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="58"/>
        <source>Arabic</source>
        <translation>阿拉伯语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="59"/>
        <source>Dutch</source>
        <translation>荷兰语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="60"/>
        <source>Polish</source>
        <translation>波兰语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="61"/>
        <source>Turkish</source>
        <translation>土耳其语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="62"/>
        <source>Ukrainian</source>
        <translation>乌克兰语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="63"/>
        <source>Vietnamese</source>
        <translation>越南语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="64"/>
        <source>Indonesian</source>
        <translation>印尼语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="65"/>
        <source>Hindi</source>
        <translation>印地语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="66"/>
        <source>Thai</source>
        <translation>泰语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="67"/>
        <source>Swedish</source>
        <translation>瑞典语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="68"/>
        <source>Greek</source>
        <translation>希腊语</translation>
    </message>
    <message>
        <location filename="../../app/base/languages.py" line="69"/>
        <source>Hebrew</source>
        <translation>希伯来语</translation>
    </message>
</context>
<context>
    <name>MainWindow</name>
    <message>
        <location filename="../../app/ui/main_window.py" line="80"/>
        <source>Chat</source>
        <extracomment>How long closing waits for the engine thread before hiding the window and waiting on.</extracomment>
        <translation>聊天</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="82"/>
        <source>Translate</source>
        <translation>翻译</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="84"/>
        <source>Summarize</source>
        <translation>摘要</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="85"/>
        <source>Models</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="88"/>
        <source>API</source>
        <translation>API</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="116"/>
        <source>&amp;File</source>
        <translation>文件(&amp;F)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="117"/>
        <source>&amp;New chat</source>
        <translation>新建对话(&amp;N)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="119"/>
        <source>&amp;Open model file…</source>
        <translation>打开模型文件(&amp;O)…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="121"/>
        <source>&amp;Settings…</source>
        <translation>设置(&amp;S)…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="126"/>
        <source>&amp;Quit</source>
        <translation>退出(&amp;Q)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="136"/>
        <source>&amp;Help</source>
        <translation>帮助(&amp;H)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="137"/>
        <source>&amp;About Kestrel</source>
        <translation>关于 Kestrel(&amp;A)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="150"/>
        <location filename="../../app/ui/main_window.py" line="239"/>
        <source>No model</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="198"/>
        <source>Preparing the model…</source>
        <translation>正在准备模型…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="212"/>
        <source>The model was not loaded.</source>
        <translation>模型未加载。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="214"/>
        <source>Kestrel did not load {name} at start, because last time it stopped the engine:</source>
        <translation>Kestrel 启动时没有加载 {name}，因为上次它使引擎停止了：</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="216"/>
        <source>Choose it again with File › Open model file… to retry, or choose another model.</source>
        <translation>可通过“文件 › 打开模型文件…”再次选择它重试，或选择其他模型。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="229"/>
        <source>Loading model…</source>
        <translation>正在加载模型…</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="264"/>
        <source>Model ready.</source>
        <translation>模型已就绪。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="268"/>
        <source>The model was loaded with changes: </source>
        <translation>模型已加载，但做了以下调整：</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="286"/>
        <source>The model could not be loaded.</source>
        <translation>无法加载模型。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="288"/>
        <source>Choose another file with File › Open model file…</source>
        <translation>请通过“文件 › 打开模型文件…”选择其他文件。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="292"/>
        <source>Open model file</source>
        <translation>打开模型文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="293"/>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="302"/>
        <source>Not a usable model</source>
        <translation>不是可用的模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="340"/>
        <source>The new interface language is used from the next start.</source>
        <translation>新的界面语言将从下次启动起使用。</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="355"/>
        <source>no model loaded</source>
        <translation>未加载模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="360"/>
        <source>About Kestrel</source>
        <translation>关于 Kestrel</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="361"/>
        <source>&lt;h3&gt;Kestrel %1&lt;/h3&gt;&lt;p&gt;Runs language models on this computer with llama.cpp, or on servers you add. It connects to nothing else, except to download a model you ask for.&lt;/p&gt;&lt;p&gt;Engine: %2&lt;/p&gt;</source>
        <translation>&lt;h3&gt;Kestrel %1&lt;/h3&gt;&lt;p&gt;借助 llama.cpp 在这台电脑上运行语言模型，也可以使用你添加的服务器上的模型。除了下载你要求的模型之外，它不会连接任何其他地方。&lt;/p&gt;&lt;p&gt;引擎：%2&lt;/p&gt;</translation>
    </message>
    <message>
        <location filename="../../app/ui/main_window.py" line="402"/>
        <source>Closing…</source>
        <translation>正在关闭…</translation>
    </message>
</context>
<context>
    <name>MessageView</name>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="182"/>
        <source>&lt;h2&gt;Ask anything.&lt;/h2&gt;&lt;p&gt;What you type goes to the model you chose, and nowhere else.&lt;/p&gt;</source>
        <translation>&lt;h2&gt;尽管提问。&lt;/h2&gt;&lt;p&gt;你输入的内容只会发送给你选择的模型，不会去往任何其他地方。&lt;/p&gt;</translation>
    </message>
</context>
<context>
    <name>MessageWidget</name>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="50"/>
        <source>You</source>
        <translation>你</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="50"/>
        <source>Kestrel</source>
        <translation>Kestrel</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="54"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="54"/>
        <source>Copy this message</source>
        <translation>复制这条消息</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="59"/>
        <source>Edit</source>
        <translation>编辑</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="59"/>
        <source>Edit and resend this message</source>
        <translation>编辑并重新发送这条消息</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="63"/>
        <source>Regenerate</source>
        <translation>重新生成</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="63"/>
        <source>Write this answer again</source>
        <translation>重新生成这条回答</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="70"/>
        <source>The previous version of this answer</source>
        <translation>此回答的上一个版本</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="73"/>
        <source>The next version of this answer</source>
        <translation>此回答的下一个版本</translation>
    </message>
    <message>
        <location filename="../../app/ui/chat/message_view.py" line="120"/>
        <source>The chat went on from this version; the versions of the last answer can be switched</source>
        <translation>聊天已从这个版本继续；只有最后一个回答可以切换版本</translation>
    </message>
</context>
<context>
    <name>ModelsPanel</name>
    <message>
        <location filename="../../app/ui/models/panel.py" line="114"/>
        <source>Models on this computer</source>
        <translation>本机上的模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="136"/>
        <source>Use this model</source>
        <translation>使用此模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="138"/>
        <source>Show in folder</source>
        <translation>在文件夹中显示</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="139"/>
        <source>Remove from list</source>
        <translation>从列表中移除</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="141"/>
        <source>Delete</source>
        <translation>删除</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="143"/>
        <source>Add model file…</source>
        <translation>添加模型文件…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="144"/>
        <source>Rescan other apps</source>
        <translation>重新扫描其他应用</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="145"/>
        <source>Look for GGUF files in the Hugging Face cache and LM Studio&apos;s models folder (linked in place, never copied)</source>
        <translation>在 Hugging Face 缓存和 LM Studio 的模型文件夹中查找 GGUF 文件（原地引用，不会复制）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="154"/>
        <source>Catalog</source>
        <translation>目录</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="161"/>
        <source>Quantization</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="162"/>
        <source>Download</source>
        <translation>下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="164"/>
        <source>Compare</source>
        <translation>比较</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="166"/>
        <source>GPU</source>
        <translation>GPU</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="168"/>
        <source>Servers</source>
        <translation>服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="236"/>
        <source>Could not read the model list: </source>
        <translation>无法读取模型列表：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="300"/>
        <source>%1 cannot be used: %2</source>
        <translation>无法使用 %1：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="304"/>
        <source>%1 is no longer there. Remove it from the list, or add it again.</source>
        <translation>%1 已不存在。请将它从列表中移除，或重新添加。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="310"/>
        <location filename="../../app/ui/models/panel.py" line="326"/>
        <source>%1 is already in use.</source>
        <translation>%1 已在使用中。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="317"/>
        <location filename="../../app/ui/models/panel.py" line="332"/>
        <source>Could not save the choice: </source>
        <translation>无法保存所选项：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="319"/>
        <location filename="../../app/ui/models/panel.py" line="334"/>
        <source>Switching to %1…</source>
        <translation>正在切换到 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="351"/>
        <source>Add model files</source>
        <translation>添加模型文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="352"/>
        <source>GGUF models (*.gguf);;All files (*)</source>
        <translation>GGUF 模型 (*.gguf);;所有文件 (*)</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/models/panel.py" line="358"/>
        <source>Adding %n file(s)…</source>
        <translation>
            <numerusform>正在添加 %n 个文件…</numerusform>
        </translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/models/panel.py" line="362"/>
        <source>Added %n model(s); they stay where they are.</source>
        <translation>
            <numerusform>已添加 %n 个模型；文件保留在原位置。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="364"/>
        <source>Not added: </source>
        <translation>未添加：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="375"/>
        <source>Could not update the list: </source>
        <translation>无法更新列表：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="377"/>
        <source>%1 was removed from the list; the file was not touched.</source>
        <translation>已将 %1 从列表中移除；文件本身未做改动。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="386"/>
        <source>%1 is the model in use; switch to another one before deleting it.</source>
        <translation>%1 是正在使用的模型；请先切换到其他模型再删除。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="391"/>
        <source>Delete model</source>
        <translation>删除模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="392"/>
        <source>Delete %1 (%2 MiB) from this computer? This cannot be undone.</source>
        <translation>要从这台电脑上删除 %1（%2 MiB）吗？此操作无法撤销。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="400"/>
        <source>Could not delete: </source>
        <translation>无法删除：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="402"/>
        <source>Deleted %1.</source>
        <translation>已删除 %1。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="408"/>
        <source>Could not open %1</source>
        <translation>无法打开 %1</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="417"/>
        <source>Could not look for other apps&apos; models: </source>
        <translation>无法查找其他应用的模型：</translation>
    </message>
    <message numerus="yes">
        <location filename="../../app/ui/models/panel.py" line="420"/>
        <source>Found %n new model(s) in other apps.</source>
        <translation>
            <numerusform>在其他应用中找到 %n 个新模型。</numerusform>
        </translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="421"/>
        <source>No new models found in other apps.</source>
        <translation>未在其他应用中找到新模型。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="438"/>
        <source>Switching to</source>
        <translation>正在切换到</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="439"/>
        <source>%1 is loaded.</source>
        <translation>%1 已加载。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="441"/>
        <source>The model was loaded with changes: </source>
        <translation>模型已加载，但做了以下调整：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/panel.py" line="445"/>
        <source>The model could not be loaded: </source>
        <translation>无法加载模型：</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="33"/>
        <source>Name</source>
        <extracomment>Marked for lupdate: the headers are translated where the table is built.</extracomment>
        <translation>名称</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="33"/>
        <source>Quant</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="34"/>
        <source>Parameters</source>
        <translation>参数量</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="34"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="35"/>
        <source>Context</source>
        <translation>上下文</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="35"/>
        <source>Chat template</source>
        <translation>聊天模板</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="36"/>
        <source>Source</source>
        <translation>来源</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="36"/>
        <source>Memory (est.)</source>
        <translation>内存（估计）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/library_view.py" line="37"/>
        <source>Fit</source>
        <translation>适配</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="34"/>
        <source>Fits fully on GPU</source>
        <translation>完全放入 GPU</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="35"/>
        <source>Partial GPU offload</source>
        <translation>部分放入 GPU</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="36"/>
        <source>Fits in RAM</source>
        <translation>可放入内存</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="37"/>
        <source>Too large</source>
        <translation>太大</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="38"/>
        <source>Unreadable</source>
        <translation>无法读取</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="39"/>
        <source>Starter</source>
        <translation>入门模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="40"/>
        <source>Imported</source>
        <translation>已导入</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="41"/>
        <source>Other app</source>
        <translation>其他应用</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="42"/>
        <source>Downloaded</source>
        <translation>已下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/common.py" line="43"/>
        <source>Made here</source>
        <translation>本机制作</translation>
    </message>
</context>
<context>
    <name>Notice</name>
    <message>
        <location filename="../../app/ui/widgets/notice.py" line="86"/>
        <source>Hide details</source>
        <translation>隐藏详情</translation>
    </message>
    <message>
        <location filename="../../app/ui/widgets/notice.py" line="86"/>
        <source>Details</source>
        <translation>详情</translation>
    </message>
</context>
<context>
    <name>QuantPicker</name>
    <message>
        <location filename="../../app/ui/models/picker.py" line="96"/>
        <location filename="../../app/ui/models/picker.py" line="140"/>
        <source>Select a model to see its variants.</source>
        <translation>选择一个模型以查看它的各个变体。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="102"/>
        <source>Estimates at</source>
        <translation>估算基于</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="108"/>
        <source> tokens</source>
        <translation> 个 token</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="109"/>
        <source>Context size for the memory estimates; the model&apos;s own setting is in Settings › Model</source>
        <translation>用于内存估算的上下文大小；模型本身的设置位于“设置 › 模型”</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="135"/>
        <source>Variants of %1</source>
        <translation>%1 的变体</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="137"/>
        <source>Variants of %1 on this computer (not in the catalog)</source>
        <translation>本机上 %1 的变体（不在目录中）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="166"/>
        <source>On this computer</source>
        <translation>在本机</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="166"/>
        <source> · in use</source>
        <translation> · 使用中</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="169"/>
        <source>Download from %1</source>
        <translation>从 %1 下载</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="172"/>
        <source>Bundled with Kestrel</source>
        <translation>随 Kestrel 附带</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="178"/>
        <source>Approximate: parameters × bits per weight; the hub listing gives the exact size</source>
        <translation>近似值：参数量 × 每权重位数；Hub 列表中有准确大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="194"/>
        <source>In use</source>
        <translation>使用中</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="194"/>
        <source>Use</source>
        <translation>使用</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="199"/>
        <source>Download…</source>
        <translation>下载…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="79"/>
        <source>Quant</source>
        <translation>量化</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="79"/>
        <source>Size</source>
        <translation>大小</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="80"/>
        <source>Where</source>
        <translation>位置</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="80"/>
        <source>Memory (est.)</source>
        <translation>内存（估计）</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/picker.py" line="81"/>
        <source>Fit</source>
        <translation>适配</translation>
    </message>
</context>
<context>
    <name>QuantizeBox</name>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="38"/>
        <source>Make a smaller copy</source>
        <translation>制作更小的副本</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="55"/>
        <source>Make smaller copy…</source>
        <translation>制作更小的副本…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="64"/>
        <source>Cancel</source>
        <translation>取消</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="92"/>
        <source>%1 is %2. Make a smaller copy with llama.cpp&apos;s quantizer; the original stays as it is.</source>
        <translation>%1 的格式为 %2。可用 llama.cpp 的量化工具制作更小的副本；原文件保持不变。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="98"/>
        <source>Smaller copies are made from F16, BF16 or Q8_0 files; %1 is already %2.</source>
        <translation>只能从 F16、BF16 或 Q8_0 文件制作更小的副本；%1 已经是 %2。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="101"/>
        <source>Select a model to make a smaller copy of it.</source>
        <translation>选择一个模型，为它制作更小的副本。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="113"/>
        <source>%1 already exists; use it from the list, or delete it first.</source>
        <translation>%1 已存在；请在列表中使用它，或先将其删除。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="123"/>
        <source>Making a %1 copy of %2…</source>
        <translation>正在制作 %2 的 %1 副本…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="140"/>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="160"/>
        <source>Made %1 (%2, %3); it is in the list now.</source>
        <translation>已制作 %1（%2，%3），已加入列表。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="168"/>
        <source>Cancelled; nothing was kept.</source>
        <translation>已取消；未保留任何文件。</translation>
    </message>
    <message>
        <location filename="../../app/ui/models/quantize_view.py" line="170"/>
        <source>Could not make the copy: </source>
        <translation>无法制作副本：</translation>
    </message>
</context>
<context>
    <name>ResultArea</name>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="107"/>
        <source>The summary appears here, one point per part of the document. Click a point&apos;s source to read the text it came from.</source>
        <translation>摘要会显示在这里，文档的每个部分对应一条要点。点击要点的出处即可阅读对应原文。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="118"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="120"/>
        <source>Copy the summary as Markdown</source>
        <translation>以 Markdown 格式复制摘要</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="121"/>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="123"/>
        <source>Save the summary as Markdown or plain text</source>
        <translation>将摘要保存为 Markdown 或纯文本</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="193"/>
        <source>The text of a very large document is not kept in memory: open the file at %1.</source>
        <translation>超大文档的文本不会保存在内存中：请打开位于 %1 的文件。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="194"/>
        <source>Source: %1</source>
        <translation>出处：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="199"/>
        <source>Summary copied to the clipboard</source>
        <translation>摘要已复制到剪贴板</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="207"/>
        <source>Export summary</source>
        <translation>导出摘要</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="208"/>
        <source>Markdown (*.md);;Plain text (*.txt)</source>
        <translation>Markdown (*.md);;纯文本 (*.txt)</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="218"/>
        <source>Could not save %1: %2</source>
        <translation>无法保存 %1：%2</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="221"/>
        <source>Summary exported to %1</source>
        <translation>摘要已导出到 %1</translation>
    </message>
</context>
<context>
    <name>ServerPanel</name>
    <message>
        <location filename="../../app/ui/server/panel.py" line="65"/>
        <source>Local API server</source>
        <translation>本地 API 服务器</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="68"/>
        <source>Editors, scripts and other programs can use the loaded model through an OpenAI-compatible API. Their requests take turns with yours, and each one needs the key below.</source>
        <translation>编辑器、脚本和其他程序可以通过兼容 OpenAI 的 API 使用已加载的模型。它们的请求与你的请求轮流执行，并且每个请求都需要下面的密钥。</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="75"/>
        <source>Serve the API</source>
        <translation>提供 API 服务</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="80"/>
        <source>Port and access…</source>
        <translation>端口与访问…</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="96"/>
        <location filename="../../app/ui/server/panel.py" line="105"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="97"/>
        <source>Address</source>
        <translation>地址</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="104"/>
        <location filename="../../app/ui/server/panel.py" line="157"/>
        <source>Show</source>
        <translation>显示</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="106"/>
        <source>New key</source>
        <translation>新密钥</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="107"/>
        <source>API key</source>
        <translation>API 密钥</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="118"/>
        <source>Try it from a terminal; put the key in KESTREL_API_KEY first.</source>
        <translation>可在终端中试用；请先把密钥放入 KESTREL_API_KEY。</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="124"/>
        <source>Time</source>
        <translation>时间</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="124"/>
        <source>Request</source>
        <translation>请求</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="124"/>
        <source>Status</source>
        <translation>状态</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="124"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="124"/>
        <source>Tokens</source>
        <translation>词元</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="125"/>
        <source>Speed</source>
        <translation>速度</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="125"/>
        <source>First text</source>
        <translation>首段文字</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="125"/>
        <source>Took</source>
        <translation>耗时</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="137"/>
        <source>Tokens per second after the first, as the client received them, measured at the server</source>
        <translation>首个词元之后每秒的词元数（按客户端收到的情况，在服务器端测得）</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="157"/>
        <source>Hide</source>
        <translation>隐藏</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="167"/>
        <source>Not serving: </source>
        <translation>未在服务：</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="169"/>
        <source>Serving at %1</source>
        <translation>正在 %1 提供服务</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="171"/>
        <source>Off: nothing listens for requests.</source>
        <translation>已关闭：没有监听任何请求。</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="180"/>
        <source>Kept in %1.</source>
        <translation>保存在%1。</translation>
    </message>
    <message>
        <location filename="../../app/ui/server/panel.py" line="196"/>
        <source>Answering: %1 · waiting: %2</source>
        <translation>正在回答：%1 · 等待中：%2</translation>
    </message>
</context>
<context>
    <name>SettingsDialog</name>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="97"/>
        <source>Settings</source>
        <translation>设置</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="33"/>
        <source>Model</source>
        <translation>模型</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="34"/>
        <source>Generation</source>
        <translation>生成</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="35"/>
        <source>Chat</source>
        <translation>聊天</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="36"/>
        <source>Interface</source>
        <translation>界面</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="37"/>
        <source>API server</source>
        <translation>API 服务器</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="38"/>
        <source>Other</source>
        <translation>其他</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="140"/>
        <source>Model file</source>
        <translation>模型文件</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="142"/>
        <source>A model on a server, chosen in the Models tab: the connection&apos;s name, &apos;/&apos;, then the model id. While set, it is used instead of the model file; empty: the model file is used.</source>
        <translation>在“模型”选项卡中选择的服务器上的模型：连接名称、“/”，然后是模型 ID。设置后将代替模型文件使用；留空则使用模型文件。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="146"/>
        <source>Model on a server</source>
        <translation>服务器上的模型</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="152"/>
        <source>Context size (tokens)</source>
        <translation>上下文大小（token）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="157"/>
        <source>CPU threads (0 = automatic)</source>
        <translation>CPU 线程数（0 = 自动）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="163"/>
        <source>GPU layers (-1 = automatic)</source>
        <translation>GPU 层数（-1 = 自动）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="169"/>
        <source>Flash attention</source>
        <translation>Flash Attention</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="174"/>
        <source>Speculative decoding: guess the next few tokens (from text already in the prompt, or with the draft model) and check them in one step. &apos;Automatic&apos; keeps it on only while it makes the reply faster on this machine; the reply is the same either way.</source>
        <translation>推测解码：先猜出接下来的几个词元（来自提示中已有的文字，或由草稿模型生成），再一步核对。“自动”只在它能让这台电脑上的回复更快时才开启；无论开关，回复都相同。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="179"/>
        <source>Speculative decoding</source>
        <translation>推测解码</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="183"/>
        <source>A smaller GGUF model with the same vocabulary as the model (for example the 1B model of the same family), loaded beside it to draft tokens. Empty: drafts come from the text alone.</source>
        <translation>一个与主模型词表相同的较小 GGUF 模型（例如同系列的 1B 模型），与主模型一同加载用于起草词元。留空：只从文本中起草。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="187"/>
        <source>Draft model file</source>
        <translation>草稿模型文件</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="192"/>
        <source>Temperature</source>
        <translation>温度</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="197"/>
        <source>Top-k</source>
        <translation>Top-k</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="203"/>
        <source>Top-p</source>
        <translation>Top-p</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="208"/>
        <source>Min-p</source>
        <translation>Min-p</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="213"/>
        <source>Repeat penalty</source>
        <translation>重复惩罚</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="218"/>
        <source>Longest reply (tokens)</source>
        <translation>最长回复（token）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="224"/>
        <source>Seed (-1 = random)</source>
        <translation>随机种子（-1 = 随机）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="230"/>
        <source>System prompt</source>
        <translation>系统提示词</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="236"/>
        <source>When the chat is too long</source>
        <translation>对话过长时</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="243"/>
        <source>Interface language</source>
        <translation>界面语言</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="248"/>
        <source>Light or dark colours. &apos;System&apos; follows the desktop&apos;s choice.</source>
        <translation>浅色或深色。“跟随系统”使用桌面的选择。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="251"/>
        <source>Theme</source>
        <translation>主题</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="252"/>
        <source>System</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="253"/>
        <source>Light</source>
        <translation>浅色</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="254"/>
        <source>Dark</source>
        <translation>深色</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="259"/>
        <source>Show speed details</source>
        <translation>显示速度详情</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="261"/>
        <source>Disk space for saved conversation states, so a chat you return to (or continue after a restart) answers without reading its history again. The least recently used go first; 0 turns saving off.</source>
        <translation>用于保存对话状态的磁盘空间：回到某个对话（或重启后继续）时，无需重新读取其历史即可回答。最久未使用的会先被删除；0 表示不保存。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="266"/>
        <source>Saved conversation states (MB)</source>
        <translation>已保存的对话状态（MB）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="268"/>
        <source>Parts of a document (summary parts, paragraphs to translate) worked on at once: sooner done, and each takes memory while it runs. 0: automatic; 1: one at a time.</source>
        <translation>同时处理的文档部分（摘要的各部分、要翻译的段落）：完成得更快，但每个部分运行时都会占用内存。0：自动；1：一次一个。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="272"/>
        <source>Document parts at once (0 = automatic)</source>
        <translation>同时处理的文档部分（0 = 自动）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="274"/>
        <source>Serve the loaded model to other programs through an OpenAI-compatible API while Kestrel runs. Every request needs the API key.</source>
        <translation>在 Kestrel 运行时，通过兼容 OpenAI 的 API 向其他程序提供已加载的模型。每个请求都需要 API 密钥。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="277"/>
        <source>Serve the API</source>
        <translation>提供 API 服务</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="279"/>
        <source>Port of the API server.</source>
        <translation>API 服务器的端口。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="282"/>
        <source>Port</source>
        <translation>端口</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="284"/>
        <source>Let other machines on the network reach the API, not only this computer. Anyone with the key can then use your model.</source>
        <translation>允许网络上的其他计算机访问 API，而不仅仅是这台电脑。任何拥有密钥的人都可以使用你的模型。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="287"/>
        <source>Reachable from other machines</source>
        <translation>允许其他计算机访问</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="289"/>
        <source>Web pages allowed to call the API from a browser (CORS), separated by spaces, e.g. http://localhost:3000. Empty: none.</source>
        <translation>允许从浏览器调用 API 的网页（CORS），以空格分隔，例如 http://localhost:3000。留空：不允许任何网页。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="292"/>
        <source>Allowed web pages</source>
        <translation>允许的网页</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="294"/>
        <source>Let a request that names another model of the library load it (the window then uses that model too).</source>
        <translation>允许指定了库中其他模型的请求加载该模型（窗口随后也会使用该模型）。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="297"/>
        <source>Requests may load other models</source>
        <translation>请求可以加载其他模型</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="170"/>
        <location filename="../../app/base/settings.py" line="180"/>
        <source>Automatic</source>
        <translation>自动</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="171"/>
        <source>On</source>
        <translation>开启</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="172"/>
        <location filename="../../app/base/settings.py" line="181"/>
        <source>Off</source>
        <translation>关闭</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="237"/>
        <source>Drop the oldest turns (and say so)</source>
        <translation>略去最早的几轮对话（并给出提示）</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="238"/>
        <source>Refuse to send</source>
        <translation>拒绝发送</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="244"/>
        <source>System language</source>
        <translation>跟随系统</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="245"/>
        <source>English</source>
        <translation>English</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="123"/>
        <source>Restore defaults</source>
        <translation>恢复默认值</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="125"/>
        <source>Fill every field with its default. Nothing is saved until OK or Apply.</source>
        <translation>将所有字段恢复为默认值。点击“确定”或“应用”之前不会保存。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="132"/>
        <source>The interface language changes when Kestrel starts again.</source>
        <translation>界面语言将在 Kestrel 下次启动时更改。</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="134"/>
        <source>Restart now</source>
        <translation>立即重启</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="208"/>
        <source>this file cannot be used: </source>
        <translation>无法使用此文件：</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="364"/>
        <source>Starter model</source>
        <translation>内置模型</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="364"/>
        <source>None</source>
        <translation>无</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="366"/>
        <source>Browse…</source>
        <translation>浏览…</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="368"/>
        <source>Choose a GGUF model file</source>
        <translation>选择 GGUF 模型文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="387"/>
        <source>Choose a model file</source>
        <translation>选择模型文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/dialog.py" line="387"/>
        <source>GGUF models (*.gguf)</source>
        <translation>GGUF 模型 (*.gguf)</translation>
    </message>
    <message>
        <location filename="../../app/ui/settings/problems.py" line="19"/>
        <source>Kestrel could not use all of your saved settings; it uses the defaults instead:</source>
        <translation>Kestrel 无法使用你保存的部分设置，已改用默认值：</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="138"/>
        <source>Model file to load. Leave empty to use the starter model.</source>
        <translation>要加载的模型文件。留空则使用内置模型。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="148"/>
        <source>Context size in tokens: how much of the conversation the model sees at once. Larger values use more memory.</source>
        <translation>以 token 计的上下文大小：模型一次能看到多少对话内容。数值越大，占用内存越多。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="154"/>
        <source>CPU threads used for generation. 0 chooses automatically.</source>
        <translation>用于生成的 CPU 线程数。0 表示自动选择。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="159"/>
        <source>Model layers to run on the GPU. -1 (automatic) offloads as many as fit in free GPU memory; 0 uses only the CPU; a number sets it by hand.</source>
        <translation>在 GPU 上运行的模型层数。-1（自动）表示空闲显存能容纳多少层就卸载多少层；0 表示只用 CPU；其他数字表示手动指定。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="165"/>
        <source>Flash attention: faster and lighter on memory where supported. &apos;auto&apos; lets Kestrel decide.</source>
        <translation>Flash Attention：在支持的情况下更快、更省内存。选“自动”则由 Kestrel 决定。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="189"/>
        <source>Randomness of replies. Lower is more focused and repeatable, higher is more varied.</source>
        <translation>回复的随机程度。越低越集中、越可复现，越高越多样。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="194"/>
        <source>Choose each word only from this many most likely candidates. 0 turns this off.</source>
        <translation>每个词只从可能性最高的这么多个候选中选取。0 表示关闭。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="199"/>
        <source>Choose each word only from the most likely candidates that together reach this probability. 1 turns this off.</source>
        <translation>每个词只从累计概率达到此值的最可能候选中选取。1 表示关闭。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="205"/>
        <source>Ignore candidates much less likely than the best one. 0 turns this off.</source>
        <translation>忽略可能性远低于最佳候选的候选词。0 表示关闭。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="210"/>
        <source>Discourage repeating recent words. 1 turns this off; higher values repeat less.</source>
        <translation>抑制重复最近出现过的词。1 表示关闭；数值越高，重复越少。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="215"/>
        <source>Longest reply, in tokens.</source>
        <translation>回复的最大长度，以 token 计。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="220"/>
        <source>Random seed: the same seed and settings give the same reply. -1 picks a new one each time.</source>
        <translation>随机种子：相同的种子和设置会得到相同的回复。-1 表示每次重新选取。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="228"/>
        <source>Instructions given to the model at the start of every new conversation.</source>
        <translation>每次新对话开始时提供给模型的指令。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="232"/>
        <source>When a conversation no longer fits in the context: drop the oldest messages, or refuse and suggest a new chat.</source>
        <translation>对话超出上下文时的处理方式：略去最早的消息，或拒绝发送并建议新建对话。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="240"/>
        <source>Language of the interface. &apos;auto&apos; follows the system language.</source>
        <translation>界面语言。选“跟随系统”则与系统语言一致。</translation>
    </message>
    <message>
        <location filename="../../app/base/settings.py" line="257"/>
        <source>Show tokens per second and timing details under each reply.</source>
        <translation>在每条回复下方显示每秒 token 数和耗时详情。</translation>
    </message>
</context>
<context>
    <name>SourceEdit</name>
    <message>
        <location filename="../../app/ui/translate/source_edit.py" line="31"/>
        <source>Type or paste text to translate, or drop a TXT, Markdown, DOCX or HTML file here.

Ctrl+Enter translates.</source>
        <translation>输入或粘贴要翻译的文本，或将 TXT、Markdown、DOCX 或 HTML 文件拖放到此处。

按 Ctrl+Enter 翻译。</translation>
    </message>
</context>
<context>
    <name>SourcePane</name>
    <message>
        <location filename="../../app/ui/summarize/results.py" line="76"/>
        <source>Close</source>
        <translation>关闭</translation>
    </message>
</context>
<context>
    <name>SpeedReadout</name>
    <message>
        <location filename="../../app/ui/speed/readout.py" line="28"/>
        <source>Ready</source>
        <extracomment>The readout&apos;s own words (translated where shown). Without a model it shows nothing: the status bar&apos;s model label alone says &quot;No model&quot;.</extracomment>
        <translation>就绪</translation>
    </message>
    <message>
        <location filename="../../app/ui/speed/readout.py" line="29"/>
        <source>Reading prompt…</source>
        <translation>正在读取提示词…</translation>
    </message>
</context>
<context>
    <name>SummarizePanel</name>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="42"/>
        <source>about %1 s</source>
        <translation>约 %1 秒</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="44"/>
        <source>about %1 min</source>
        <translation>约 %1 分钟</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="46"/>
        <source>about %1 h %2 min</source>
        <translation>约 %1 小时 %2 分钟</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="82"/>
        <source>No document yet.</source>
        <translation>尚未打开文档。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="117"/>
        <source>Can&apos;t use this: %1</source>
        <translation>无法使用：%1</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="133"/>
        <source>Open a document</source>
        <translation>打开文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="134"/>
        <source>All files</source>
        <translation>所有文件</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="134"/>
        <source>Documents</source>
        <translation>文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="147"/>
        <source>The clipboard holds no text to summarize.</source>
        <translation>剪贴板中没有可供摘要的文本。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="154"/>
        <source>Pasted text</source>
        <translation>粘贴的文本</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="159"/>
        <source>A summary is running: cancel it before opening another document.</source>
        <translation>正在生成摘要：请先取消，再打开其他文档。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="166"/>
        <source>Reading %1…</source>
        <translation>正在读取 %1…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="179"/>
        <source>No document loaded.</source>
        <translation>未加载文档。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="198"/>
        <source>This is a very large document (%1 MB). It is read piece by piece, but summarizing all of it will take a long time; finished parts are kept if you cancel.</source>
        <translation>这是一个非常大的文档（%1 MB）。它会被逐段读取，但完整摘要需要很长时间；如果取消，已完成的部分会保留。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="210"/>
        <source>1 page</source>
        <translation>1 页</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="210"/>
        <source>%1 pages</source>
        <translation>%1 页</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="211"/>
        <source>%1 characters</source>
        <translation>%1 个字符</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="230"/>
        <source>Load a model to count tokens and estimate the time.</source>
        <translation>加载模型后才能统计 token 数并估算用时。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="237"/>
        <source>Counting tokens when the engine is free…</source>
        <translation>引擎空闲时将统计 token 数…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="246"/>
        <source>Counting tokens…</source>
        <translation>正在统计 token 数…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="257"/>
        <source>%1 tokens</source>
        <translation>%1 个 token</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="259"/>
        <source> · fits the context: one pass</source>
        <translation> · 可放入上下文：一次完成</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="261"/>
        <source> · %1 parts of up to %2 tokens</source>
        <translation> · 分 %1 部分，每部分最多 %2 个 token</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="282"/>
        <source>Starting…</source>
        <translation>正在启动…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="296"/>
        <source>Cancelling…</source>
        <translation>正在取消…</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="303"/>
        <source>Part %1 of %2</source>
        <translation>第 %1 部分，共 %2 部分</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="307"/>
        <source>Reading the whole document in one pass</source>
        <translation>正在一次读取整个文档</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="310"/>
        <source>Combining the parts</source>
        <translation>正在合并各部分</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="340"/>
        <source>Stopped before the end: what was written so far is kept below.</source>
        <translation>未完成即已停止：已写出的内容保留在下方。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="342"/>
        <source>Stopped: %1 of %2 parts summarized (their points are kept below)</source>
        <translation>已停止：已摘要 %1 / %2 部分（其要点保留在下方）</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="344"/>
        <source>Summary stopped.</source>
        <translation>摘要已停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="346"/>
        <source>Done in %1 · %2 parts</source>
        <translation>完成，用时 %1 · 共 %2 部分</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="349"/>
        <source> (%1 from the cache)</source>
        <translation>（其中 %1 部分来自缓存）</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="351"/>
        <source> · %1 tokens read at %2 tok/s</source>
        <translation> · 已读取 %1 个 token（%2 tok/s）</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="353"/>
        <source>Summary done.</source>
        <translation>摘要已完成。</translation>
    </message>
    <message>
        <location filename="../../app/ui/summarize/panel.py" line="363"/>
        <source>The summary could not be made.</source>
        <translation>无法生成摘要。</translation>
    </message>
</context>
<context>
    <name>TranslatePanel</name>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="101"/>
        <source>Swap languages</source>
        <translation>交换语言</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="104"/>
        <source>Open document…</source>
        <translation>打开文档…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="106"/>
        <source>Glossary…</source>
        <translation>术语表…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="122"/>
        <source>Back to text</source>
        <translation>返回文本</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="138"/>
        <source>The translation appears here.</source>
        <translation>译文会显示在这里。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="154"/>
        <source>%v / %m segments</source>
        <translation>%v / %m 段</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="161"/>
        <source>Translate</source>
        <translation>翻译</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="163"/>
        <source>Translate (Ctrl+Enter)</source>
        <translation>翻译 (Ctrl+Enter)</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="165"/>
        <source>Stop</source>
        <translation>停止</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="167"/>
        <source>Copy</source>
        <translation>复制</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="169"/>
        <location filename="../../app/ui/translate/panel.py" line="398"/>
        <source>Export…</source>
        <translation>导出…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="250"/>
        <source>Auto (detected: %1)</source>
        <translation>自动（检测到：%1）</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="252"/>
        <source>Auto-detect</source>
        <translation>自动检测</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="262"/>
        <source>Choose the source language first: it could not be detected.</source>
        <translation>请先选择源语言：无法自动检测。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="290"/>
        <source>Type or paste some text first, or open a document.</source>
        <translation>请先输入或粘贴文本，或打开一个文档。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="294"/>
        <source>Nothing to translate: the text has no words.</source>
        <translation>没有可翻译的内容：文本中没有文字。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="300"/>
        <source>No model is loaded yet. Wait for it, or open one with File › Open model file…</source>
        <translation>尚未加载模型。请稍候，或通过“文件 › 打开模型文件…”打开一个。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="304"/>
        <source>The model is busy with another answer. Try again when it has finished.</source>
        <translation>模型正在生成其他回答。请等它完成后再试。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="309"/>
        <source>The source and target languages are the same.</source>
        <translation>源语言和目标语言相同。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="327"/>
        <source>Translating…</source>
        <translation>正在翻译…</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="373"/>
        <source>The text is already in %1: there is nothing to translate. Choose another target language.</source>
        <translation>文本已经是%1：无需翻译。请选择其他目标语言。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="387"/>
        <source>Stopped.</source>
        <translation>已停止。</translation>
    </message>
    <message>
        <location filename="../../app/ui/translate/panel.py" line="398"/>
        <source>Save document…</source>
        <translation>保存文档…</translation>
    </message>
</context>
</TS>
