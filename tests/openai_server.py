"""llama-cpp-python's own OpenAI-compatible server over the shipped GGUF.

``python -m tests.openai_server PORT`` serves ``/v1/chat/completions`` on
127.0.0.1:PORT, the way a user would run ``python -m llama_cpp.server``, with
ragqa's AMX guard applied to the load (llama.cpp's server has ``--no-repack``
for the same reason). The HTTP generator's tests talk to it.
"""

from __future__ import annotations

import os
import sys

MODEL_ALIAS = "SmolLM2-135M-Instruct"


def main() -> int:
    import uvicorn
    from llama_cpp.server.app import create_app
    from llama_cpp.server.settings import ModelSettings, ServerSettings

    from qa.generator import _llama_model_params, cpu_flags, packaged_gguf_path, repack_weights

    port = int(sys.argv[1])
    overrides = {} if repack_weights("auto", cpu_flags()) else {"use_extra_bufts": False}
    with _llama_model_params(**overrides):
        app = create_app(
            server_settings=ServerSettings(host="127.0.0.1", port=port),
            model_settings=[
                ModelSettings(
                    model=str(packaged_gguf_path()),
                    model_alias=MODEL_ALIAS,
                    n_ctx=2048,
                    n_threads=os.cpu_count() or 1,
                    n_threads_batch=os.cpu_count() or 1,
                    seed=0,
                    verbose=False,
                )
            ],
        )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
