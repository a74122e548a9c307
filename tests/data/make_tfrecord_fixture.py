"""Write the ddsp TFRecord fixture with TensorFlow, as ddsp's prepare_tfrecord writes examples.

Run once in the peer environment (``bash benchmarks/peers/setup_tf.sh``)::

    source /tmp/peers/tf-venv/peers_env.sh
    python tests/data/make_tfrecord_fixture.py      # writes tests/data/ddsp_tfrecord/

ddsp's ``prepare_tfrecord_lib`` turns each example's float dict into ``tf.train.Example`` with one
``FloatList`` feature per key and writes serialized Examples as TFRecord records; this script does
the same with ``tf.io.TFRecordWriter`` (ddsp's Beam sink writes the same record framing).
"""

import os
import sys

import tensorflow as tf

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from tfrecord_fixture_values import EXAMPLES_PER_FILE, FILES, example_values  # noqa: E402


def float_dict_to_tfexample(float_dict):
    """ddsp's ``_float_dict_to_tfexample``."""
    return tf.train.Example(
        features=tf.train.Features(
            feature={
                k: tf.train.Feature(float_list=tf.train.FloatList(value=v))
                for k, v in float_dict.items()
            }
        )
    )


def main():
    out_dir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "ddsp_tfrecord")
    os.makedirs(out_dir, exist_ok=True)
    for i, name in enumerate(FILES):
        with tf.io.TFRecordWriter(os.path.join(out_dir, name)) as writer:
            for j in range(EXAMPLES_PER_FILE):
                writer.write(float_dict_to_tfexample(example_values(i, j)).SerializeToString())
    print("wrote", out_dir, "with TensorFlow", tf.__version__)


if __name__ == "__main__":
    main()
