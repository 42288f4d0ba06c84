export default {
  post(): never {
    throw new Error('k6 shim: k6/http is not shimmed; set JWT_SECRET');
  },
};
