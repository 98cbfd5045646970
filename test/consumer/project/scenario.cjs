/**
 * What a user of the published packages does in Node, written once and run twice: from an ES
 * module (esm.mjs) and from CommonJS (cjs.cjs), each passing the modules as it loaded them.
 *
 * 1. model.fit of a tfjs-layers model with layersLoss (logit adjustment) and perturbationCallback;
 * 2. a custom loop with LPL (prior split) through optimizer.minimize;
 * 3. one LPL loss on one batch three ways: the float64 reference, tfjs, and the exported ONNX model
 *    run by onnxruntime-web.
 * 4. the core's two other entries: the backend's shape arithmetic and the verifier's error measure.
 * Returns the figures; the consumer test judges them.
 */
async function run({ tf, tfl, core, coreBackend, coreVerify, tfjs, onnx }) {
  await tf.setBackend('cpu')
  const tensorsBefore = tf.memory().numTensors
  const classCounts = [60, 15, 5]
  const centers = [
    [0, 0],
    [2, 0],
    [0, 2],
  ]
  const rand = core.mulberry32(7)
  const points = []
  const labels = []
  classCounts.forEach((count, c) => {
    for (let k = 0; k < count; k++) {
      points.push([centers[c][0] + rand() - 0.5, centers[c][1] + rand() - 0.5])
      labels.push(c)
    }
  })
  const xs = tf.tensor2d(points)
  const ids = tf.tensor1d(labels, 'int32')
  const ys = tf.oneHot(ids, 3)

  const la = tfjs.createTfjsLoss({ rule: 'logit-adjustment', tau: 1, classCounts })
  const model = tfl.sequential({ layers: [tfl.layers.dense({ units: 3, inputShape: [2], kernelInitializer: 'zeros' })] })
  const fitOptimizer = tf.train.sgd(0.2)
  model.compile({ optimizer: fitOptimizer, loss: tfjs.layersLoss(la) })
  const history = await model.fit(xs, ys, {
    epochs: 15,
    batchSize: 16,
    shuffle: false,
    verbose: 0,
    callbacks: tfjs.perturbationCallback(la),
  })
  const fitLosses = history.history.loss.map(Number)

  const spec = { rule: 'lpl', split: 'prior', classCounts }
  const lpl = tfjs.createTfjsLoss(spec)
  // In a tidy, so the zeros the variables start from are freed (variables outlive a tidy).
  const w = tf.tidy(() => tf.variable(tf.zeros([2, 3])))
  const b = tf.tidy(() => tf.variable(tf.zeros([3])))
  const optimizer = tf.train.sgd(0.2)
  const loopLosses = []
  for (let step = 0; step < 20; step++) {
    const value = optimizer.minimize(() => lpl(tf.add(tf.matMul(xs, w), b), ids), true)
    loopLosses.push((await value.data())[0])
    value.dispose()
  }

  const rows = points.slice(0, 8).map(([x, y]) => [x - y, 2 * y, x + 0.5])
  const rowLabels = labels.slice(0, 8)
  const ops = core.referenceOps
  const reference = core.createLoss(ops, spec)(ops.constant(rows.flat(), [8, 3]), ops.constant(rowLabels, [8], 'int32')).data[0]
  const onTfjs = tf.tidy(() => lpl(tf.tensor2d(rows), tf.tensor1d(rowLabels, 'int32')).dataSync()[0])
  const onOnnx = (await onnx.runLossModel(onnx.exportLossModel(spec).bytes, rows, rowLabels)).loss

  for (const t of [xs, ids, ys, w, b]) t.dispose()
  model.dispose()
  optimizer.dispose()
  fitOptimizer.dispose()
  la.dispose()
  lpl.dispose()
  const entries = {
    broadcast: coreBackend.broadcastShapes([2, 1], [1, 3]),
    traces: typeof coreBackend.traceLoss,
    error: coreVerify.relativeError(Float64Array.of(2, 4), Float64Array.of(2, 5)),
  }
  return { fitLosses, loopLosses, reference, tfjs: onTfjs, onnx: onOnnx, entries, tensorsLeft: tf.memory().numTensors - tensorsBefore }
}

module.exports = { run }
