"""Benchmark of the hf runner against the way sql-eval generated (run by hand).

    python bench/bench_hf.py [--hidden 48 --layers 2] [-b BEAMS] [--batch-size 4] [-n 48]
    python bench/bench_hf.py --hidden 512 --layers 12 --heads 8 --intermediate 1536   # ~40M
    python bench/bench_hf.py --hidden 2048 --layers 16 --heads 16 --device cuda        # GPU

Builds a random-weight Llama of the given shape and a tokenizer trained on the spot
(tests/tiny_hf.py; nothing is downloaded), renders the bundled default prompt for the
sample benchmark's questions (repeated to ``-n``; the table metadata is the schema files'
CREATE TABLE text), then generates the same prompts with the same beams and token budget:

- baseline: a transformers ``pipeline("text-generation")`` called on the prompt list with
  ``batch_size=4``, greedy or beam search, prompts in file order (as sql-eval's hf runner);
- hf runner: this harness's runner (prompts tokenized once, length-sorted batches, left
  padding, every beam kept).

Prints each throughput in questions per second, the ratio, and how many top answers agree.
Random weights rarely emit EOS or a closing code fence, so both generate the full
``--max-new-tokens``: the runner's per-step stop-string check (it stops each answer at the
fence that closes the prompt's open ```sql block) is a pure cost here, never a saving.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from eval.prompts import load_template  # noqa: E402
from eval.questions import load_questions  # noqa: E402
from runners.base import GenerationRequest, RunnerConfig  # noqa: E402
from runners.hf import HFRunner  # noqa: E402
from tiny_hf import build_tiny_llama  # noqa: E402

SAMPLE = ROOT / "tests" / "fixtures" / "sample"


def sample_prompts(n: int) -> list[str]:
    """The default template over the sample questions, repeated to ``n`` prompts."""
    template = load_template("default")
    questions = load_questions(SAMPLE / "questions.csv")
    prompts = []
    for q in questions:
        schema = "\n".join(
            p.read_text() for p in sorted((SAMPLE / "schemas" / q.db_name).glob("*schema*.sql"))
        )
        values = {
            "question": q.question,
            "instructions": q.instructions,
            "table_metadata": schema.strip(),
            "few_shot": "",
            "dialect": "PostgreSQL",
        }
        prompts.append(template.render(values).prompt)
    return [prompts[i % len(prompts)] for i in range(n)]


def run_baseline(prompts: list[str], args: argparse.Namespace, runner: HFRunner) -> list[str]:
    """sql-eval's approach: a text-generation pipeline over the prompt list, batch size 4."""
    from transformers import pipeline

    pipe = pipeline("text-generation", model=runner.model, tokenizer=runner.tokenizer, device=runner.device)
    pipe.tokenizer.padding_side = "left"
    outputs = pipe(
        prompts,
        max_new_tokens=args.max_new_tokens,
        do_sample=False,
        num_beams=args.beams,
        num_return_sequences=1,
        return_full_text=False,
        pad_token_id=runner.tokenizer.pad_token_id,
        eos_token_id=runner.tokenizer.eos_token_id,
        batch_size=4,
    )
    return [out[0]["generated_text"] for out in outputs]


def run_runner(runner: HFRunner, prompts: list[str]) -> list[str]:
    requests = [GenerationRequest(key=str(i), prompt=p) for i, p in enumerate(prompts)]
    results = dict(runner.generate(requests))
    return [results[i].text for i in range(len(prompts))]


def timed(action) -> tuple[float, list[str]]:
    started = time.perf_counter()
    texts = action()
    return time.perf_counter() - started, texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", type=int, default=48)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--intermediate", type=int, default=None, help="MLP width (default: 2x hidden)")
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("-n", "--num-questions", type=int, default=48)
    parser.add_argument("-b", "--beams", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4, help="the hf runner's batch size")
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--device", default=None)
    parser.add_argument("--dtype", default=None)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each (best kept)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    args = parser.parse_args()

    import torch
    import transformers

    if args.threads:
        torch.set_num_threads(args.threads)  # on a shared machine, 1 is far less noisy
    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    with tempfile.TemporaryDirectory(prefix="bench-hf-") as tmp:
        model_dir = build_tiny_llama(
            Path(tmp) / "model",
            hidden=args.hidden,
            layers=args.layers,
            heads=args.heads,
            intermediate=args.intermediate,
            vocab_size=args.vocab,
            chat=False,  # both sides get the same completion prompt text
        )
        config = RunnerConfig(
            model=str(model_dir),
            num_beams=args.beams,
            batch_size=args.batch_size,
            max_new_tokens=args.max_new_tokens,
            device=args.device,
            dtype=args.dtype,
        )
        runner = HFRunner(config)
        params = sum(p.numel() for p in runner.model.parameters())
        prompts = sample_prompts(args.num_questions)
        lengths = [len(runner.tokenizer(p)["input_ids"]) for p in prompts]
        print(
            f"model: Llama hidden={args.hidden} layers={args.layers} ({params / 1e6:.1f}M parameters), "
            f"{runner.device} {runner.dtype}, torch {torch.__version__}, transformers {transformers.__version__}"
        )
        print(
            f"{len(prompts)} prompts ({min(lengths)}-{max(lengths)} tokens), beams={args.beams}, "
            f"max_new_tokens={args.max_new_tokens}, threads={torch.get_num_threads()}, best of {args.repeat}"
        )
        run_runner(runner, prompts[:2])  # warm-up (first-call allocations) for both
        run_baseline(prompts[:2], args, runner)
        # Alternate the two and keep each one's best time: other load on the machine then
        # hits both alike.
        base_s = ours_s = float("inf")
        for _ in range(args.repeat):
            seconds, base_texts = timed(lambda: run_baseline(prompts, args, runner))
            base_s = min(base_s, seconds)
            seconds, our_texts = timed(lambda: run_runner(runner, prompts))
            ours_s = min(ours_s, seconds)
        agree = sum(a.strip() == b.strip() for a, b in zip(base_texts, our_texts))
        n = len(prompts)
        print(f"baseline pipeline (batch 4):      {n / base_s:8.2f} questions/s  ({base_s:.2f}s)")
        print(
            f"hf runner (batch {args.batch_size}, sorted):     {n / ours_s:8.2f} questions/s  ({ours_s:.2f}s)"
        )
        print(f"ratio hf runner / baseline: {base_s / ours_s:.2f}x; top answers identical: {agree}/{n}")


if __name__ == "__main__":
    main()
