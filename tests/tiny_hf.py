"""A tiny Llama-architecture model and a tokenizer trained here, saved like a real checkpoint.

Random weights (fixed seed): the model writes junk, which is what the tests want to see
handled. Nothing is downloaded. Also used by bench/bench_hf.py for larger shapes.
"""

from __future__ import annotations

import shutil
from pathlib import Path

# Text the tokenizer learns its merges from: SQL and the words of the prompts.
CORPUS = [
    "SELECT COUNT(*) FROM customers WHERE city = 'Lisbon';",
    "SELECT name, city FROM customers ORDER BY name;",
    "SELECT title, price FROM products ORDER BY price DESC LIMIT 5;",
    "SELECT p.title, SUM(o.quantity * p.price) AS revenue FROM orders o JOIN products p ON p.product_id = o.product_id GROUP BY p.title;",
    "SELECT c.name FROM customers c LEFT JOIN orders o ON o.customer_id = c.customer_id WHERE o.order_id IS NULL;",
    "SELECT AVG(grade) FROM enrolments WHERE grade IS NOT NULL;",
    "SELECT course_code, AVG(grade) FROM enrolments GROUP BY course_code;",
    "SELECT s.full_name, COUNT(e.course_code) FROM students s JOIN enrolments e USING (student_id) GROUP BY s.full_name;",
    "WITH totals AS (SELECT customer_id, COUNT(*) AS n FROM orders GROUP BY customer_id) SELECT MAX(n) FROM totals;",
    "SELECT DATE_TRUNC('month', ordered_at) AS month, COUNT(*) FROM orders GROUP BY 1 ORDER BY 1;",
    "SELECT CAST(SUM(quantity) AS FLOAT) / NULLIF(COUNT(*), 0) FROM orders;",
    "SELECT * FROM products WHERE price BETWEEN 10 AND 20;",
    "SELECT title FROM products WHERE title ILIKE '%mug%';",
    "SELECT DISTINCT city FROM customers WHERE city IS NOT NULL;",
    "SELECT year_of_study, COUNT(*) FROM students GROUP BY year_of_study HAVING COUNT(*) > 1;",
    "CREATE TABLE customers (customer_id integer, name text, city text, joined_on date);",
    "CREATE TABLE orders (order_id integer, customer_id integer, quantity integer, ordered_at timestamp);",
    "PRIMARY KEY (product_id), FOREIGN KEY (customer_id) REFERENCES customers(customer_id)",
    "-- unit price in EUR",
    "### Task Write one PostgreSQL query that answers this question:",
    "### Database The query runs against a database with these tables",
    "### Answer Here is the PostgreSQL query that answers",
    "How many customers live in Lisbon?",
    "What is the average grade per course?",
    "Which customers have never ordered?",
    "```sql SELECT ```",
]
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)


def build_tokenizer(vocab_size: int = 512, chat: bool = True):
    """A byte-level BPE tokenizer (any text encodes, no <unk>) trained on CORPUS."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIALS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    tok.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<s>",
        eos_token="</s>",
        pad_token="<pad>",
        unk_token="<unk>",
        chat_template=CHAT_TEMPLATE if chat else None,
    )


def build_tiny_llama(
    path: Path,
    *,
    hidden: int = 48,
    layers: int = 2,
    heads: int = 4,
    intermediate: int | None = None,
    vocab_size: int = 512,
    chat: bool = True,
    seed: int = 0,
) -> Path:
    """Save a random-weight Llama and its tokenizer to ``path``; returns ``path``."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer(vocab_size, chat)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=intermediate or hidden * 2,
        num_hidden_layers=layers,
        num_attention_heads=heads,
        num_key_value_heads=max(1, heads // 2),
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def build_fence_writer(path: Path, *, chatter: str = "SELECT", hidden: int = 16) -> Path:
    """A tiny Llama whose weights are set, not random: it closes a fence on a line of its
    own, then chatters: after a newline it writes ```` ``` ````, after the fence
    ``chatter``, after any other token a newline, so greedy output is
    ```` \n```SELECT\n```SELECT... ```` up to the length limit unless generation stops at
    the fence.

    How: the layers' output projections are zero, so the last hidden state is the last
    token's embedding: (1, 0) for most tokens, (0, 1) for the newline, (-1, -1) for the
    fence; the untied output head scores the newline by dimension 0, the fence by
    dimension 1 and the chatter token by minus both.
    """
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = build_tokenizer()
    fence, after, newline = tokenizer.convert_tokens_to_ids(["```", chatter, "Ċ"])
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=hidden,
        intermediate_size=hidden * 2,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=4096,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
        tie_word_embeddings=False,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        for layer in model.model.layers:
            layer.self_attn.o_proj.weight.zero_()
            layer.mlp.down_proj.weight.zero_()
        embeddings = model.model.embed_tokens.weight
        embeddings.zero_()
        embeddings[:, 0] = 1.0
        embeddings[newline, :2] = torch.tensor([0.0, 1.0])
        embeddings[fence, :2] = -1.0
        head = model.lm_head.weight
        head.zero_()
        head[newline, 0] = 1.0
        head[fence, 1] = 1.0
        head[after, :2] = -1.0
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def cache_as_hub_model(model: Path, hub_cache: Path, repo_id: str) -> None:
    """Lay ``model`` out in ``hub_cache`` (``HF_HUB_CACHE``) as a download of ``repo_id``
    from the hub would be: ``refs/main`` naming a snapshot that holds the files."""
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = hub_cache / f"models--{repo_id.replace('/', '--')}"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    shutil.copytree(model, repo / "snapshots" / commit)
